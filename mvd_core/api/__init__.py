"""HTTP API shared by the Azure Functions app and the local server."""

"""The local host: the same orchestrators, commands and API as on Azure, on one machine."""

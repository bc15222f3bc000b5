"""Azure Functions blueprints registered by function_app.py: http (the API routes, webhooks
included), dashboard, schedule, commands (queue triggers) and orchestration (the workflow
functions)."""

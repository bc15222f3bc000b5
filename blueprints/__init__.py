"""Azure Functions blueprints registered by function_app.py: http, webhooks, schedule,
commands (queue triggers) and orchestration (the workflow functions)."""

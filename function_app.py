"""The Azure Functions app: registers the blueprints and nothing else."""

import azure.durable_functions as df
import azure.functions as func

from blueprints import commands, dashboard, http, orchestration, schedule

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for _module in (http, dashboard, schedule, commands, orchestration):
    app.register_functions(_module.bp)

"""Serve the app to a class: N Streamlit replicas behind HAProxy (`python -m deploy`)."""

from .launcher import (
    DeployError,
    Launched,
    Launcher,
    alive,
    check_port_free,
    free_port_block,
    healthy,
    launched,
    proxy_sees_up,
    render_config,
)

__all__ = ["DeployError", "Launched", "Launcher", "alive", "check_port_free", "free_port_block",
           "healthy", "launched", "proxy_sees_up", "render_config"]

"""Serve the app to a class: N Streamlit replicas behind HAProxy (`python -m deploy`)."""

from .launched import Launched, free_port_block, launched
from .launcher import (
    DeployError,
    Launcher,
    alive,
    check_port_free,
    healthy,
    proxy_sees_up,
    render_config,
)

__all__ = ["DeployError", "Launched", "Launcher", "alive", "check_port_free", "free_port_block",
           "healthy", "launched", "proxy_sees_up", "render_config"]

"""Serve the app to a class: N Streamlit replicas behind HAProxy (`python -m deploy`)."""

from .launcher import DeployError, Launcher, check_port_free, healthy, render_config

__all__ = ["DeployError", "Launcher", "check_port_free", "healthy", "render_config"]

"""Streamlit glue shared by the pages: model picker and caches (state), figures, training job."""

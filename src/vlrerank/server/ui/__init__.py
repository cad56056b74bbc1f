"""The web UI (Gradio), mounted on the API app."""

"""The Streamlit UI: `streamlit run app/ui/app.py` (or `formcast ui`)."""

"""The Streamlit app's pages: one file per page, each a short script over one library module.

`common` holds the shared cached resources (the workspace, the active model, cached results
keyed on the store's data version) and small drawing helpers; `label`, `review`, `model`,
`documents` and `codebook` are the pages that `app.py` hands to `st.navigation`.
"""

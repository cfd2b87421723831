"""The dashboard: server-rendered pages over the ledger, behind an admin-key login.

`pages` builds what each page shows from the library (no HTTP in it), `charts` turns
it into Plotly figures, `auth` holds the login cookie and CSRF tokens, `routes` is the
thin FastAPI layer. Plotly's JavaScript is served from the installed `plotly`
package, so the dashboard works with no internet.
"""

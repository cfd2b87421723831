"""The dashboard: server-rendered pages over the ledger, behind an admin-key login.

Each page is built from the library (no HTTP in it) by its module: `overview`,
`sessions_pages`, `spenders` (users, agents), `margins_page`, `alerts_page` and
`config_pages` (prices, session types), on `pages` (cards, ranges, presets), `tables`
(cells, sorting, paging, CSV) and `charts` (Plotly figures). The whole cost they show
comes from `costledger.total_cost`. `auth` holds the login cookie and CSRF tokens,
`assets` the static files (the charting library from an installed package, never a
CDN), `errors` the error pages, `routes` is the thin FastAPI layer.
"""

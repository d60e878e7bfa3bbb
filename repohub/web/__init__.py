"""The web pages: server-rendered Jinja2 over the same domain calls as the API.

Routes parse a request, call `repos`/`auth`, and render; they hold no rules of their own.
Pages work without JavaScript, and the site's Content-Security-Policy forbids scripts (the
job pages, `jobs_pages`, and the compare and versions pages allow their own same-origin chart
scripts and say so themselves).
"""

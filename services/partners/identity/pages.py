"""Small server-rendered pages: sign-in, membership chooser, invitations, password reset.

Plain HTML with inline styles (no scripts, no CDN assets), labelled fields,
and a CSRF token on every form: a random value in a ``SameSite=Strict``
cookie that the form must echo (double submit), compared in constant time.
"""

import secrets
from collections.abc import Iterable

from fastapi import Request
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

CSRF_COOKIE = "trellis_csrf"
CSRF_FIELD = "csrf_token"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f5f1;color:#1d1d1b;
margin:0;display:flex;justify-content:center;padding:3rem 1rem}
main{background:#fff;max-width:26rem;width:100%;padding:2rem;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin:1rem 0 .3rem}
input[type=email],input[type=password],input[type=text]{width:100%;box-sizing:border-box;
padding:.6rem;font-size:1rem;border:1px solid #8a8a85;border-radius:4px}
input:focus,button:focus{outline:3px solid #2f6f4f;outline-offset:2px}
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#2f6f4f;color:#fff;
border:0;border-radius:4px;cursor:pointer}
fieldset{border:0;padding:0;margin:0}legend{font-weight:600;margin-bottom:.5rem}
.choice{display:flex;gap:.5rem;align-items:center;margin:.4rem 0;font-weight:400}
.error{background:#fbe9e7;border-left:4px solid #b3261e;padding:.6rem .8rem}
.note{color:#55554f;font-size:.9rem}a{color:#2f6f4f}
"""


def render(
    title: str,
    body: Markup | str,
    *,
    status: int = 200,
    csrf: str | None = None,
    secure: bool = False,
) -> HTMLResponse:
    """A whole page; ``csrf`` (re)sets the double-submit cookie the page's forms echo."""
    html = Markup(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} · Trellis</title><style>{style}</style></head>"
        '<body><main aria-labelledby="page-title"><h1 id="page-title">{title}</h1>{body}'
        "</main></body></html>"
    ).format(title=title, style=Markup(STYLE), body=body)
    response = HTMLResponse(
        str(html),
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self' http: https:; frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
        },
    )
    if csrf is not None:
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure, path="/"
        )
    return response


def csrf_for(request: Request) -> str:
    """The CSRF value to put in a form: the cookie's if it has a good one, else a new one."""
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if len(current) == 43 else secrets.token_urlsafe(32)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """Whether the form echoed the cookie's CSRF value (compared in constant time)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and secrets.compare_digest(cookie, submitted))


def csrf_refused() -> HTMLResponse:
    return message_page(
        "Form expired",
        "This form has expired or was not sent from Trellis's own page. "
        "Go back, reload the page and try again.",
        status=400,
    )


def hidden(fields: Iterable[tuple[str, str | None]]) -> Markup:
    return Markup("").join(
        Markup('<input type="hidden" name="{}" value="{}">').format(name, value)
        for name, value in fields
        if value is not None
    )


def error_box(message: str | None) -> Markup:
    if not message:
        return Markup("")
    return Markup('<p class="error" role="alert">{}</p>').format(message)


def message_page(title: str, message: str, *, status: int = 200) -> HTMLResponse:
    return render(title, Markup("<p>{}</p>").format(message), status=status)


def text(value: str) -> Markup:
    return escape(value)

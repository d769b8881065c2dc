"""Sign-in: who the person in front of the app is, in the configured identity mode.

Three modes, set with `PMC_AUTH` or `pmc app --auth` (docs/team-signin.md):

* `none` (default) — a typed name, for one trusted machine: nothing proves it, and the app says
  so. On a store with users, the name must still be an enabled user, and its role applies.
* `header` — a trusted reverse proxy signs people in and passes their identity in a request
  header (`PMC_AUTH_HEADER`, default `X-Forwarded-Email`). The app must then be reachable only
  through the proxy: anyone who can reach it directly can send the header themselves.
* `oidc` — the organisation's identity provider through Streamlit's native `st.login()`
  (configured in `.streamlit/secrets.toml`, `[auth]`); the identity is the `email` claim, else
  `preferred_username`, else `sub`.

`identify()` is a plain function over what the shell read (headers, the OIDC user, the typed
name) and returns the name to sign in, or None; `store.users.sign_in()` then says whether that
person may use this store and with which role.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import AccessError

__all__ = ["MODES", "AuthConfig", "auth_config", "identify"]

MODES = ("none", "header", "oidc")
DEFAULT_HEADER = "X-Forwarded-Email"


@dataclass(frozen=True)
class AuthConfig:
    mode: str = "none"
    header: str = DEFAULT_HEADER

    @property
    def proven(self) -> bool:
        """True when the identity is established by something other than the person's word."""
        return self.mode != "none"


def auth_config(environ: Mapping[str, str] | None = None) -> AuthConfig:
    """The identity mode from `PMC_AUTH` and `PMC_AUTH_HEADER` (an `AccessError` if unknown)."""
    env = os.environ if environ is None else environ
    mode = (env.get("PMC_AUTH") or "none").strip().lower()
    if mode not in MODES:
        raise AccessError(f"PMC_AUTH is {mode!r}; expected one of {', '.join(MODES)}")
    header = (env.get("PMC_AUTH_HEADER") or DEFAULT_HEADER).strip()
    return AuthConfig(mode=mode, header=header)


def identify(config: AuthConfig, *, headers: Mapping[str, str] | None = None,
             oidc_user: Mapping[str, Any] | None = None, typed: str = "") -> str | None:
    """The signed-in name in `config.mode`, or None when nobody is signed in."""
    if config.mode == "header":
        if not headers:
            return None
        wanted = config.header.lower()
        for key, value in headers.items():
            if key.lower() == wanted and str(value).strip():
                return str(value).strip()
        return None
    if config.mode == "oidc":
        if not oidc_user or not oidc_user.get("is_logged_in"):
            return None
        for claim in ("email", "preferred_username", "sub"):
            if oidc_user.get(claim):
                return str(oidc_user[claim]).strip()
        return None
    return typed.strip() or None

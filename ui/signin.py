"""Sign-in for the app's frame: who is here (`classifier.identity`), whether the store lets them
in (`store.users.sign_in`), and which pages their role opens.

Called by `app.py` before any page runs: somebody not signed in, unknown to a team store or
disabled sees a sign-in message and no paragraph text. The signed-in name is the only identity
the pages use (`common.annotator()`), so nobody can act as someone else through the app.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from classifier.errors import AccessError, PmcError
from classifier.identity import auth_config, identify
from classifier.store.users import User, sign_in
from ui import common as c

# The least action each page needs (store.users.ACTIONS); a page whose action the role lacks
# is not in the navigation at all.
PAGE_ACTIONS = {"ui/label.py": "label", "ui/review.py": "review", "ui/model.py": "admin",
                "ui/documents.py": "label", "ui/analysis.py": "label", "ui/codebook.py": "label"}


def _oidc_user() -> dict[str, Any]:
    try:
        return st.user.to_dict()
    except Exception:  # noqa: BLE001 - no [auth] secrets: nobody is signed in through OIDC
        return {}


def _typed_in() -> None:
    name = st.session_state.get("signin_name", "").strip()
    if name:
        st.session_state.annotator = name
        st.query_params["annotator"] = name  # a reload keeps who is labelling
        for key in ("item", "pool_empty", "back_steps"):
            st.session_state.pop(key, None)


def sign_out() -> None:
    """Forget the typed name (typed-name mode) or end the OIDC session."""
    config = auth_config()
    for key in ("annotator", "item", "pool_empty", "back_steps"):
        st.session_state.pop(key, None)
    st.query_params.pop("annotator", None)
    if config.mode == "oidc":
        st.logout()


def gate() -> User:
    """The signed-in user, or draw the sign-in screen (no paragraph text) and stop the script."""
    config = auth_config()
    if config.mode == "none" and not st.session_state.get("annotator") and st.query_params.get("annotator", "").strip():
        st.session_state.annotator = st.query_params["annotator"].strip()  # identity survives a reload
    name = identify(config, headers=dict(st.context.headers) if config.mode == "header" else None,
                    oidc_user=_oidc_user() if config.mode == "oidc" else None,
                    typed=st.session_state.get("annotator", ""))
    problem = ""
    if name:
        try:
            user = sign_in(c.workspace().store, name)
        except AccessError as exc:
            problem = str(exc)
        except PmcError as exc:
            st.error(c.md(exc))
            st.stop()
        else:
            st.session_state.annotator = user.name
            st.session_state.user = user
            return user
    _screen(config.mode, config.header, problem)
    st.stop()
    raise AssertionError("unreachable")


def _screen(mode: str, header: str, problem: str) -> None:
    st.title("Sign in")
    if problem:
        st.error(c.md(problem))
    if mode == "header":
        st.info(f"This pmc signs people in through your organisation's proxy (header `{header}`); none came "
                f"with this request. Open pmc through the sign-in address your admin gave you.")
        return
    if mode == "oidc":
        st.write("Sign in with your organisation's account to label and review.")
        if problem:
            st.button("Sign out", on_click=sign_out, key="signout_unknown")
        else:
            st.button("Sign in", type="primary", on_click=st.login, key="signin_oidc")
        return
    with st.form("who"):
        st.text_input("Your name", key="signin_name", placeholder="e.g. wang.li",
                      help="Asked once per session; every answer records who gave it.")
        st.form_submit_button("Start labelling", type="primary", on_click=_typed_in)
    c.muted("Typed-name mode is for one trusted machine: nothing checks that you are who you type. "
            "A team server signs people in with PMC_AUTH=oidc or header (see README, Team server).")
    if problem:
        st.session_state.pop("annotator", None)
        st.query_params.pop("annotator", None)


def allowed_pages(user: User, pages: tuple[tuple[str, str, str], ...]) -> list[tuple[str, str, str]]:
    """The pages this user's role opens, in the frame's order (their names also go to the session
    state as `pmc_pages`, for the sidebar and the tests)."""
    allowed = [page for page in pages if user.can(PAGE_ACTIONS[page[0]])]
    st.session_state.pmc_pages = [path.rsplit("/", 1)[-1].removesuffix(".py") for path, _, _ in allowed]
    return allowed


def sidebar(user: User) -> None:
    """Who is signed in, their role, and how to sign out."""
    role = user.role if user.registered else "single machine"
    # As HTML, escaped: Markdown would turn an e-mail address into a mailto link.
    st.html(f"<div class=\"pmc-signed-in\"><b>Signed in:</b> {c.esc(user.name)} · {c.esc(role)}</div>")
    if auth_config().mode != "header":  # behind a proxy, signing out is the proxy's business
        st.button("Sign out", on_click=sign_out, key="sign_out")

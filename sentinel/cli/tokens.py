"""``sentinel tokens``: create and revoke API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from sentinel.auth import Role, create_token, revoke_tokens
from sentinel.cli.context import load_context
from sentinel.cli.output import echo


def register(app: typer.Typer) -> None:
    tokens = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)
    app.add_typer(tokens, name="tokens")

    @tokens.command("create")
    def create(
        ctx: typer.Context,
        name: Annotated[str, typer.Option("--name", help="Who or what uses the token.")],
        role: Annotated[Role, typer.Option("--role", help="admin, soc_manager, soc_analyst or institution.")],
        institution: Annotated[str | None, typer.Option("--institution", help="For institution tokens.")] = None,
    ) -> None:
        """Create a token and print it once."""
        state = load_context(ctx)
        token = create_token(state.store, name=name, role=role, institution_id=institution, inventory=state.inventory)
        echo("store this token now; it cannot be shown again:", err=True)
        echo(token)

    @tokens.command("revoke")
    def revoke(ctx: typer.Context, name: Annotated[str, typer.Option("--name")]) -> None:
        """Revoke every token with this name."""
        state = load_context(ctx)
        echo(f"revoked {revoke_tokens(state.store, name)} token(s)")

"""``pasta run``: one personalized session with a person or a simulated user."""

from __future__ import annotations

from typing import Any

import click

from pasta_cli.options import check_text, component_options, parse_options, writable_folder
from pasta_core.config import MAX_IMAGES_PER_PROMPT, MAX_SEED, MAX_SLATE_SIZE, MAX_TURNS


def _simulated_user(user_model: str | None, options: dict[str, Any], user_type: int | None, seed: int) -> Any:
    from pasta_checkpoints.resolve import resolve_model
    from pasta_core.errors import InvalidValueError
    from pasta_core.plugins import get_plugins
    from pasta_core.streams import run_seed
    from pasta_users import SimulatedUser

    plugins = get_plugins()
    model = plugins.load("user-model", resolve_model(user_model or "simple", "user-model", plugins), **options)
    if user_type is not None:
        if not 0 <= user_type < model.num_types:
            raise InvalidValueError(f"--user-type {user_type + 1}: the user model has {model.num_types} user types, "
                                    f"numbered 1 to {model.num_types}")
        return SimulatedUser(model, user_type)
    return SimulatedUser.sample(model, run_seed(seed, "user-type", 0))


def _pick_prompt(seed: int) -> str:
    import numpy as np

    from pasta_cli.data import initial_prompts

    prompts = initial_prompts()
    return prompts[int(np.random.default_rng(seed).integers(len(prompts)))]


@click.command("run")
@click.option("--generator", default="template", show_default=True, help="Candidate generator plugin.")
@click.option("--t2i", default="procedural", show_default=True, help="Text-to-image plugin.")
@click.option("--selector", default="random", show_default=True, help="Slate selector plugin.")
@click.option("--user", "user_kind", type=click.Choice(["human", "sim"]), default="human", show_default=True,
              help="Who picks the columns: you at this terminal (human) or a simulated user (sim).")
@click.option("--user-model", default=None,
              help="Simulated user: a registered name, a checkpoint folder or a Hub repo (hf://owner/name) [simple].")
@click.option("--user-type", type=click.IntRange(1), default=None,
              help="Simulated user's type, numbered from 1 (default: drawn from the prior).")
@click.option("--value-model", default=None,
              help="The value selector's model (passed as model=DIR): a checkpoint folder or a Hub repo (hf://owner/name).")
@click.option("--prompt", default=None, help="Initial prompt (sim: a PartiPrompts prompt if omitted).")
@click.option("--turns", type=click.IntRange(1, MAX_TURNS), default=5, show_default=True, help="Turns in the session.")
@click.option("--slate-size", type=click.IntRange(1, MAX_SLATE_SIZE), default=4, show_default=True,
              help="Columns (prompts) shown each turn (L).")
@click.option("--images", type=click.IntRange(1, MAX_IMAGES_PER_PROMPT), default=4, show_default=True, help="Images per prompt (M).")
@click.option("--reward", type=click.Choice(["sparse", "dense"]), default="sparse", show_default=True,
              help="Simulated user's reward: at the last turn only (sparse) or at every turn (dense).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Seed of the session's random streams.")
@click.option("--out", default="pasta-output", show_default=True, help="Folder for session folders.")
@click.option("--resume", "resume_dir", default=None, help="Continue an interrupted session folder.")
@click.option("--show-prompts", is_flag=True, help="Print the prompt behind each column at every turn (--user human).")
@component_options(user_model="the simulated user's model")
def run_command(**kw: Any) -> None:
    """Run one session: the agent proposes, renders and learns what you like."""
    from pasta_core.errors import PastaError

    if kw["prompt"] is not None:
        check_text(kw["prompt"], "--prompt")
        if not kw["prompt"].strip():
            raise click.BadParameter("the initial prompt is empty; describe the image you want", param_hint="--prompt")
    if kw["user_type"] is not None:
        kw["user_type"] -= 1  # people count types from 1; the code from 0
    try:
        session = _resume(kw) if kw["resume_dir"] else _create(kw)
        try:
            _play(session, kw)
        except (KeyboardInterrupt, click.exceptions.Abort):  # Ctrl-C, or the end of standard input
            _stopped(session)
            raise click.exceptions.Exit(130) from None
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc


def _stopped(session: Any) -> None:
    """Ctrl-C or the end of input: finish writing the answered turns, then say in one line
    where they are and how to go on."""
    import shlex

    try:
        session.close()
    except Exception as exc:  # the answers on disk may be incomplete: say so, do not hide the stop
        click.echo(f"\nStopped; writing the session folder failed: {exc}", err=True)
        return
    folder = session.folder
    if folder is None or not session.started or not folder.exists():
        click.echo("\nStopped before the first turn was shown; nothing was saved.", err=True)
        return
    answered = len(session.history.turns)
    click.echo(f"\nStopped after {answered} of {session.config.turns} turns; the session is saved in {folder}. "
               f"Continue it with: pasta run --resume {shlex.quote(str(folder))}", err=True)


#: Flags that define a session: a resumed session takes them from its folder.
_DEFINING = ("generator", "t2i", "selector", "user_model", "user_type", "value_model", "prompt", "turns",
             "slate_size", "images", "reward", "seed", "out", "generator_option", "t2i_option",
             "selector_option", "user_model_option")


def _given(name: str) -> bool:
    """Whether ``--name`` was typed on the command line (not a default)."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) == ParameterSource.COMMANDLINE


def _resume(kw: dict[str, Any]) -> Any:
    from pasta_core.session import Session
    from pasta_png import png_bytes

    given = [name for name in _DEFINING if _given(name)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise click.UsageError(
            f"{flags}: a resumed session keeps the settings recorded in {kw['resume_dir']}/session.json "
            "(seed, components, turns, user); leave them out, or start a new session"
        )
    session = Session.resume(kw["resume_dir"], encode=png_bytes)
    recorded = (session.user or {}).get("kind")
    if recorded and _given("user_kind") and kw["user_kind"] != recorded:
        raise click.UsageError(f"--user {kw['user_kind']}: this session was played by a {recorded} user")
    if recorded:
        kw["user_kind"] = recorded
    if session.done:
        click.echo(f"Session {session.session_id} is already finished ({session.config.turns} of "
                   f"{session.config.turns} turns answered); nothing to resume. Its record:")
    else:
        click.echo(f"Resuming session {session.session_id} at turn {session.turn} of {session.config.turns}")
    return session


def _create(kw: dict[str, Any]) -> Any:
    from pasta_core.config import EpisodeConfig
    from pasta_core.session import Session
    from pasta_png import png_bytes

    writable_folder(kw["out"], "--out")
    selector_options = parse_options(kw["selector_option"], "--selector-option")
    if kw["value_model"]:  # a folder, or a Hub repo recorded at its commit (resume loads the same model)
        from pasta_checkpoints.resolve import pinned
        from pasta_core.plugins import get_plugins

        selector_options["model"] = pinned(kw["value_model"], "value-model", get_plugins())
    return Session.create(
        kw["generator"],
        kw["t2i"],
        kw["selector"],
        generator_options=parse_options(kw["generator_option"], "--generator-option"),
        t2i_options=parse_options(kw["t2i_option"], "--t2i-option"),
        selector_options=selector_options,
        config=EpisodeConfig(
            turns=kw["turns"], slate_size=kw["slate_size"], images_per_prompt=kw["images"],
            reward_mode=kw["reward"],
        ),
        seed=kw["seed"],
        out=kw["out"],
        encode=png_bytes,
    )


def _user(session: Any, kw: dict[str, Any]) -> Any:
    """Who answers: for a resumed session the person recorded in its folder."""
    from pasta_core.errors import PastaError, SessionError

    if kw["user_kind"] != "sim":
        from pasta_cli.human import ConsoleUser

        session.user = {"kind": "human"}
        return ConsoleUser(session.saved_grid, show_prompts=kw["show_prompts"])
    if kw["show_prompts"]:
        raise click.UsageError("--show-prompts: prints the prompts for a person at the terminal (--user human)")
    recorded = session.user or {}
    model = recorded.get("model") or _pinned_user_model(kw["user_model"])
    options = recorded.get("options", parse_options(kw["user_model_option"], "--user-model-option"))
    user_type = session.user_type if session.started and session.user_type is not None else kw["user_type"]
    try:
        user = _simulated_user(model, dict(options), user_type, session.seed)
    except PastaError as exc:
        if not recorded:
            raise
        raise SessionError(f"{session.store.state_file}: the recorded user: {exc}") from exc
    session.user_type = user.user_type
    session.user = {"kind": "sim", "model": model or "simple", "options": options}
    return user


def _pinned_user_model(user_model: str | None) -> str | None:
    """A new session's --user-model as it is recorded (a Hub repo at its commit)."""
    if not user_model:
        return user_model
    from pasta_checkpoints.resolve import pinned
    from pasta_core.plugins import get_plugins

    return pinned(user_model, "user-model", get_plugins())


def _play(session: Any, kw: dict[str, Any]) -> None:
    from pasta_core.session import play

    user = _user(session, kw)
    if session.done:  # a finished session, resumed: its record only
        session.close()
        _summary(session)
        return
    prompt = kw["prompt"]
    if not session.started and not prompt:
        if kw["user_kind"] == "sim":
            prompt = _pick_prompt(kw["seed"])
        else:
            prompt = click.prompt("Describe the image you want (a few words)")
    play(session, user, prompt, progress=kw["user_kind"] == "sim")
    _summary(session)


def _summary(session: Any) -> None:
    trajectory = session.trajectory
    click.echo(f"\nSession {session.session_id}: {len(trajectory.turns)} turns")
    click.echo(f"  initial prompt: {trajectory.initial_prompt}")
    for i, turn in enumerate(trajectory.turns, start=1):
        reward = f"  reward {turn.reward:.3f}" if turn.reward is not None else ""
        click.echo(f"  turn {i}: chose column {turn.choice + 1}: {turn.chosen.text}{reward}")
    if session.folder is not None:
        click.echo(f"Output: {session.folder}")
        click.echo(f"  trajectory: {session.folder / 'trajectory.parquet'}")
        click.echo(f"  grids:      {session.folder / 'grids'}")

"""`nava-eval weights list|download|verify`: the scorer weight files (metrics.weights registry)."""

from __future__ import annotations

import click


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@click.group(name="weights")
def command() -> None:
    """List, download and verify weight files (cache: $NAVA_EVAL_WEIGHTS_DIR or ~/.cache/nava-eval/weights)."""


@command.command(name="list")
@click.option(
    "--verify", is_flag=True, help="Also check the sha256 of every present file (slow for big files)."
)
def list_command(verify: bool) -> None:
    """Every registered weight: name, file, used by, licence, where it is cached and whether it is there."""
    from nava_eval.metrics.weights import weight_statuses

    for st in weight_statuses(verify=verify):
        spec = st.spec
        mark = {
            "ok": click.style("✓", fg="green"),
            "unchecked": click.style("✓", fg="green"),
            "unpinned": click.style("✓", fg="yellow"),
            "missing": click.style("·", fg="yellow"),
            "mismatch": click.style("✗", fg="red"),
        }[st.state]
        click.echo(
            f"{mark} {spec.name:<22} {spec.filename}  [{', '.join(spec.used_by)}]  {_human(spec.size)}"
        )
        click.echo(f"    licence: {spec.license}")
        click.echo(f"    url:     {spec.url}" + (f" @ {spec.revision}" if spec.revision else ""))
        pin = spec.sha256 or f"not pinned: {spec.unpinned_reason}"
        click.echo(f"    sha256:  {pin}")
        if spec.pin_source:
            click.echo(f"    pinned from: {spec.pin_source}")
        click.echo(f"    cache:   {st.path} ({st.state}{': ' + st.detail if st.detail else ''})")


@command.command(name="download")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every registered weight.")
@click.option(
    "--for-metric", "for_metric", default=None, help="Every weight used by this metric (e.g. sync)."
)
@click.option("--force", is_flag=True, help="Download again even when the cached file verifies.")
@click.option(
    "--offline",
    is_flag=True,
    help="Never touch the network: only check what is cached (also: nava-eval --offline, NAVA_EVAL_OFFLINE=1).",
)
@click.option(
    "--trust-unpinned",
    is_flag=True,
    help="Also download entries whose sha256 is not pinned in the registry (their hash is printed).",
)
def download_command(
    names: tuple[str, ...],
    all_: bool,
    for_metric: str | None,
    force: bool,
    offline: bool,
    trust_unpinned: bool,
) -> None:
    """Fetch weight files (resuming partial downloads), verify size/sha256, print each file's sha256.

    Hub files stay in the Hugging Face cache and are used from there; other files go to
    $NAVA_EVAL_WEIGHTS_DIR. A file that fails its checksum is deleted. The name `nava` fetches the
    NAVA release (DiT, VAEs, text encoder, ReDimNet) with default options; `nava-eval weights nava
    --help` lists its options (folder, fp8 file, dry run).
    """
    from nava_eval.metrics.weights import (
        WeightsError,
        cached_file,
        check_file,
        download_weight,
        expected_location,
        get_spec,
        offline_requested,
        weight_specs,
    )

    offline = offline or offline_requested()

    if "nava" in names:
        from nava_eval.runners.cli.weights_nava import command as nava_command

        click.get_current_context().invoke(nava_command, offline=offline)
        names = tuple(n for n in names if n != "nava")
        if not (names or all_ or for_metric):
            return

    specs = weight_specs()
    chosen = list(names)
    if all_:
        chosen = sorted(specs)
    if for_metric:
        chosen += [n for n, s in sorted(specs.items()) if for_metric in s.used_by and n not in chosen]
    if not chosen:
        raise click.UsageError("name weights to download, or use --all / --for-metric METRIC")
    failed = False
    for name in chosen:
        try:
            spec = get_spec(name)
        except WeightsError as exc:
            raise click.ClickException(str(exc)) from None
        if offline:
            path = cached_file(spec)
            failed |= path is None
            click.echo(
                f"{name}: "
                + (
                    f"present {path}"
                    if path
                    else f"missing (offline: not downloaded) {expected_location(spec)}"
                )
            )
            continue
        try:
            path = download_weight(spec, force=force, trust_unpinned=trust_unpinned)
            digest, state = check_file(spec, path, delete_bad=True)
        except WeightsError as exc:
            failed = True
            click.echo(click.style(f"✗ {name}: {exc}", fg="red"), err=True)
            continue
        note = (
            ""
            if state == "ok"
            else " (not pinned in the registry: this sha256 is recorded in results provenance)"
        )
        click.echo(f"✓ {name}: {path} sha256 {digest}{note}")
    raise SystemExit(1 if failed else 0)


def _mount_nava() -> None:
    from nava_eval.runners.cli.weights_nava import command as nava_command

    command.add_command(nava_command)


_mount_nava()


@command.command(name="verify")
@click.argument("names", nargs=-1)
def verify_command(names: tuple[str, ...]) -> None:
    """Check size and sha256 of cached files; a mismatching file is deleted and the exit code is 1."""
    from nava_eval.metrics.weights import WeightsError, weight_statuses

    try:
        statuses = weight_statuses(names or None, verify=True)
    except WeightsError as exc:
        raise click.ClickException(str(exc)) from None
    bad = False
    for st in statuses:
        if st.state == "mismatch":
            bad = True
            click.echo(click.style(f"✗ {st.spec.name}: {st.detail}", fg="red"))
        elif st.state == "missing":
            click.echo(f"· {st.spec.name}: missing at {st.path} → nava-eval weights download {st.spec.name}")
        else:
            tag = "ok" if st.state in ("ok", "unchecked") else "present, sha256 not pinned"
            click.echo(f"✓ {st.spec.name}: {tag} ({st.sha256})")
    raise SystemExit(1 if bad else 0)

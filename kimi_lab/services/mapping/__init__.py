"""`kimi_lab.map`: one question per row of a DataFrame, Series or list, typed if asked, with admission
control, cost limits, a progress bar and a checkpoint that makes a rerun ask only what is missing."""

from __future__ import annotations

import math
from typing import Any, Sequence

from kimi_lab.common.errors import KimiConfigError, KimiInterrupted
from kimi_lab.common.secrets import namespace_secrets, scrub, secret_values
from kimi_lab.core.structured import Schema
from kimi_lab.core.template import RowTemplate
from kimi_lab.services.ask import request_spec
from kimi_lab.services.mapping.estimate import Estimate, confirm_start, estimate_job
from kimi_lab.services.mapping.frame import OWN_COLUMNS, build_frame
from kimi_lab.services.mapping.inputs import rows_of
from kimi_lab.services.mapping.job import Counts, Job
from kimi_lab.services.mapping.plan import MapPlan, limits_for, system_prompt
from kimi_lab.settings.config import KimiLab, settings

__all__ = ["map_rows"]

BACKENDS = ("async", "batch")
ON_ERROR = ("record", "raise")


def map_rows(
    template: str,
    data: Any,
    *,
    schema: Any = None,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    system: str | None = None,
    tools: str | None = "none",
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    stop: str | Sequence[str] | None = None,
    effort: str | None = None,
    route: str | Sequence[str] | None = None,
    concurrency: int | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    max_cost: float | None = None,
    dry_run: bool = False,
    resume: bool = True,
    on_error: str = "record",
    confirm: bool = True,
    reasoning: bool = False,
    backend: str = "async",
    progress: str = "auto",
    namespace: dict[str, Any] | None = None,
    config: KimiLab | None = None,
) -> Any:
    """Ask `template`, filled from each row (`{column}`), of every row of `data`; a DataFrame aligned with
    `data`'s index: the answer (or one column per `schema` field), `reasoning` when asked, `error`,
    `tokens_in`, `tokens_out`, `cost`. See the README's "Kimi over every row" for every option."""
    cfg = config or settings()
    if backend not in BACKENDS:
        raise KimiConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if on_error not in ON_ERROR:
        raise KimiConfigError(f"on_error must be 'record' (an error column) or 'raise', not {on_error!r}")
    concurrency = _number("concurrency", concurrency, 1, 1024, whole=True)
    rpm, tpm = _number("rpm", rpm, 0, None), _number("tpm", tpm, 0, None)
    max_cost = _number("max_cost", max_cost, 0, None)
    if max_cost == 0:
        raise KimiConfigError("max_cost must be above 0 dollars (None: no cap)")
    if max_cost is not None and backend == "batch":
        raise KimiConfigError("max_cost cannot stop a batch once the provider has it: map fewer rows "
                              "(e.g. df.head(1000)) or use the default backend, which stops admitting rows at the cap")
    parsed = RowTemplate(template)
    rows = rows_of(data)
    parsed.check(rows.columns)
    typed = Schema(schema) if schema is not None else None
    taken = sorted(set(typed.fields if typed is not None else ()) & OWN_COLUMNS)
    if taken:
        raise KimiConfigError(f"the schema's field {', '.join(repr(t) for t in taken)} has the name of a column map "
                              f"adds itself ({', '.join(sorted(OWN_COLUMNS))}): rename it in the schema")
    spec = request_spec(provider=provider, model=model, base_url=base_url, temperature=temperature, top_p=top_p,
                        max_tokens=max_tokens, seed=seed, stop=stop, effort=effort, route=route, tools=tools,
                        config=cfg)
    asking = [name for name, t in spec.offered.items() if t.ask]
    if asking:
        raise KimiConfigError(f"map runs rows unattended, so tools that ask first cannot be offered "
                              f"({', '.join(asking)}): use tools='data', 'none' or a list of tools that only read")
    if namespace is None:  # the notebook's: its secrets are scrubbed from every prompt (and the tools read it)
        from kimi_lab.render.views import _shell

        shell = _shell()
        namespace = shell.user_ns if shell is not None else None
    secrets = secret_values(extra_names=cfg.secret_env,
                            extra_values=[*spec.target.secrets, *namespace_secrets(namespace)])
    limits = limits_for(spec.target.provider.name, cfg, concurrency, rpm, tpm)
    plan = MapPlan(spec, cfg, parsed, typed, scrub(system_prompt(system, typed, bool(spec.offered)) or "", secrets)
                   or None, secrets, limits, namespace)
    if max_cost is not None and plan.free:
        max_cost = None  # nothing is billed: there is nothing to cap
    if max_cost is not None and spec.target.provider.price is None:
        raise KimiConfigError(
            f"max_cost needs a price, and {spec.target.provider.name} lists none for {spec.target.model}: give one "
            f"with %config KimiLab.presets = {{{spec.target.provider.name!r}: {{'price': [input, output, "
            f"cache_read]}}}} (dollars per million tokens), or drop max_cost")

    keys, firsts = _keys(plan, rows)
    from kimi_lab.store.checkpoint import Checkpoint

    checkpoint = Checkpoint()
    try:
        answered = checkpoint.answered(keys) if resume else {}
        to_ask = [plan.prompt(rows.row(i)) for key, i in firsts.items() if key not in answered]
        est = estimate_job(plan, to_ask, len(rows), sum(1 for k in keys if k in answered))
        del to_ask
        if dry_run:
            return est
        if confirm and not plan.free:
            confirm_start(est, cfg.map_confirm_cost, max_cost)  # a paid job of unknown price asks too
        if backend == "batch":
            from kimi_lab.services.mapping.provider_batch import run_batch

            outcomes, unasked = run_batch(plan, rows, keys, answered, checkpoint, progress=progress,
                                          keep_reasoning=reasoning)
        else:
            outcomes, unasked = _run_async(plan, rows, keys, answered, checkpoint, est, on_error=on_error,
                                           max_cost=max_cost, keep_reasoning=reasoning, progress=progress,
                                           claims=resume)
        return build_frame(rows, keys, outcomes, typed, keep_reasoning=reasoning, unasked=unasked,
                           info=_info(plan, checkpoint))
    finally:
        checkpoint.close()


def _number(name: str, value: Any, low: float, high: float | None, whole: bool = False) -> Any:
    """A real, finite number in range, or None; anything else is one line (NaN would switch a limit off)."""
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and whole:
        ok = float(value).is_integer()
    if not ok or value < low or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
        raise KimiConfigError(f"{name} must be a {'whole ' if whole else ''}number {span}, got {value!r}")
    return int(value) if whole else value


def _keys(plan: MapPlan, rows: Any) -> tuple[list[str], dict[str, int]]:
    """Each row's checkpoint key, and each distinct key's first row."""
    keys: list[str] = []
    firsts: dict[str, int] = {}
    for i in range(len(rows)):
        try:
            prompt = plan.prompt(rows.row(i))
        except KimiConfigError as exc:
            label = scrub(repr(rows.index[i])[:80], plan.secrets)
            raise KimiConfigError(f"row {label}: {exc.message}") from None
        key = plan.key(prompt)
        keys.append(key)
        firsts.setdefault(key, i)
    return keys, firsts


def _run_async(plan: MapPlan, rows: Any, keys: list[str], answered: dict[str, Any], checkpoint: Any,
               est: Estimate, *, on_error: str, max_cost: float | None, keep_reasoning: bool,
               progress: str, claims: bool) -> tuple[dict[str, Any], str]:
    from kimi_lab.render.progress import Progress
    from kimi_lab.services.mapping.claims import RowClaims

    bar = Progress(len(rows), kind=progress, title=f"kimi_lab.map · {plan.target.model}", start=est.answered)

    def draw(counts: Counts, in_flight: int, force: bool = False) -> None:
        bar.update(done=counts.done, failed=counts.failed, in_flight=in_flight, tokens=counts.tokens,
                   cost=counts.cost if counts.cost_known else None, force=force)

    if plan.target.provider.dialect != "native":  # the SDK imported and its client made before any request is
        from kimi_lab.backends.remote import _client  # admitted: otherwise the first requests wait on that setup

        _client(plan.target, plan.cfg)  # after admission and reach the provider bunched together
    typical = est.typical / est.to_ask if est.typical is not None and est.to_ask else 0.0
    job = Job(plan, rows, keys, answered, checkpoint, on_error=on_error, max_cost=max_cost,
              keep_reasoning=keep_reasoning, row_estimate=typical, progress=draw,
              claims=RowClaims(checkpoint) if claims else None)  # resume=False asks every row, whoever asks it too
    print(f"kimi_lab.map: {est.to_ask:,} to ask of {len(rows):,} rows ({est.answered:,} answered before); "
          f"{plan.limits.describe()}", flush=True)
    try:
        job.run()
    except KimiInterrupted:
        saved = job.counts.answered
        bar.close(f"stopped: interrupted; {saved:,} rows answered and saved in this run")
        error = KimiInterrupted(f"interrupted: {saved:,} rows answered in this run are saved; run the same cell "
                                f"again to ask only the rest")
        error.partial = build_frame(rows, keys, job.outcomes, plan.schema, keep_reasoning=keep_reasoning,
                                    unasked="not asked: interrupted", info=_info(plan, checkpoint))
        raise error from None
    draw(job.counts, 0, force=True)
    failed = job.counts.failed
    for warning in job.warnings:
        print(f"⚠ {warning}", flush=True)
    if job.fatal is not None:
        bar.close(f"stopped: {job.fatal.message}")
        # what --out (and the error) hold: the rows answered so far, not the failed row's partial answer
        job.fatal.partial = build_frame(rows, keys, job.outcomes, plan.schema, keep_reasoning=keep_reasoning,
                                        unasked=f"not asked: {job.fatal.message}", info=_info(plan, checkpoint))
        raise job.fatal
    if job.stopped_by:
        bar.close(f"stopped: {job.stopped_by}; {job.counts.done:,} of {len(rows):,} rows done")
        return job.outcomes, f"not asked: {job.stopped_by}"
    bar.close(f"done: {len(rows):,} rows, {failed:,} failed")
    return job.outcomes, "not asked"


def _info(plan: MapPlan, checkpoint: Any) -> dict[str, Any]:
    """What the frame remembers for `trace`: where its rows were saved, and who answered them."""
    return {"checkpoint": str(checkpoint.path), "model": plan.target.model, "provider": plan.target.provider.name}

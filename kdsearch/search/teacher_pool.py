"""The teachers of a search: each trained or loaded once on the driver, read by trials from Ray.

The driver works out every teacher the space can ask for (`teachers_for_space`), gets each from
the teacher cache (`kdsearch.train.teacher_cache`) and puts it in Ray's object store once;
trials fetch theirs by reference (`fetch_teacher`). Where the teacher cache is on, the same goes
for each teacher's targets (`targets_for_space`, `fetch_targets`;
`kdsearch.train.teacher_targets`): trials then read them by sample index and never run it.
"""

from __future__ import annotations

from kdsearch.train.teacher_cache import get_teacher, teacher_key


def teachers_for_space(space, dataset, *, console=None, device: str = "cpu") -> tuple[dict[str, dict], int]:
    """Every teacher the space can ask for (one per distinct teacher config), trained or cached.

    Returns ({cache key: blob}, how many came from the cache). A searched `teacher.branch`
    gives one teacher per branch; trials look theirs up with `teacher_key(config, fingerprint)`.
    """
    from kdsearch.spec.combos import categorical_configs
    from kdsearch.spec.kinds import kind_of

    pool: dict[str, dict] = {}
    reused = 0
    for cfg in categorical_configs(space):
        if not kind_of(cfg).needs_teacher(cfg, searched=space.params):
            continue  # a no-KD search, or DMD (it distils inside one model), needs no teacher
        key = teacher_key(cfg, dataset.fingerprint)
        if key in pool:
            continue
        if console is not None and len(pool) == 0 and _distinct_teachers(space, dataset) > 1:
            console.print(f"The space asks for {_distinct_teachers(space, dataset)} teachers: preparing each once.")
        pool[key], was_cached = get_teacher(cfg, dataset, console=console, device=device)
        reused += int(was_cached)
    return pool, reused


def teachers_for_configs(configs, dataset, *, console=None, device: str = "cpu") -> dict[str, dict]:
    """The teachers a list of full experiment configs reads (a `kdsearch confirm` grid), each once."""
    from kdsearch.spec.kinds import kind_of

    pool: dict[str, dict] = {}
    for cfg in configs:
        key = teacher_key(cfg, dataset.fingerprint)
        if kind_of(cfg).needs_teacher(cfg) and key not in pool:
            pool[key], _ = get_teacher(cfg, dataset, console=console, device=device)
    return pool


# The last teacher this worker process got, by object ref: with `reuse_actors` one process runs
# trial after trial with the same teacher and need not deserialize its weights again. One entry
# keeps a long-lived worker's memory bounded when a space searches several teachers. Trials only
# read the blob (`load_state_dict` copies the weights), so sharing it between them is safe.
_LAST_TEACHER: dict[str, dict] = {}


def targets_for_space(space, dataset, teachers: dict, *, console=None, device: str = "cpu") -> dict[str, dict]:
    """{target key: arrays} of every teacher and KD loss the space can run, computed once each
    (or read from the disk cache) with the teachers of `teachers_for_space`."""
    from kdsearch.spec.teacher_cache_plan import teacher_configs
    from kdsearch.train.teacher_targets import get_targets, key_for_config

    out: dict[str, dict] = {}
    for cfg in teacher_configs(space):
        key = key_for_config(cfg, dataset.fingerprint)
        if key not in out:
            blob = teachers[teacher_key(cfg, dataset.fingerprint)]
            out[key], _ = get_targets(cfg, dataset.fingerprint, blob, dataset.to_arrays(), device=device,
                                      console=console)
    return out


# As for teachers: the last targets this worker read, by object ref (a reused actor runs trial
# after trial with the same ones). Trials only read them.
_LAST_TARGETS: dict[str, dict] = {}


def fetch_targets(ref) -> dict:
    """In a trial: the teacher targets behind `ref` (zero-copy numpy views on this node)."""
    import ray

    key = ref.hex()
    if key not in _LAST_TARGETS:
        _LAST_TARGETS.clear()
        _LAST_TARGETS[key] = ray.get(ref)
    return _LAST_TARGETS[key]


def fetch_teacher(ref) -> tuple[dict, int | None]:
    """In a trial: the teacher blob behind `ref`, and whether getting it copied it to this node.

    Returns:
        (blob, fetched): fetched is 1 when this node held no copy of the object before (Ray
        pulled it over the network for this trial), 0 when it already held one (the driver put
        it here, or an earlier trial pulled it), None when Ray could not tell. Trials record it
        (`teacher_fetched` in epochs.parquet), which shows each node pulled each teacher once.
    """
    import ray

    key = ref.hex()
    if key in _LAST_TEACHER:
        return _LAST_TEACHER[key], 0
    fetched = _fetched_to_this_node(ref)
    blob = ray.get(ref)
    _LAST_TEACHER.clear()
    _LAST_TEACHER[key] = blob
    return blob, fetched


def _fetched_to_this_node(ref) -> int | None:
    """1 when no copy of `ref` is on this node yet, 0 when one is, None when unknown.

    Asks the object's owner (the driver) where copies are. `ray.put` objects live in the
    plasma store, so a known object has at least its primary copy listed; an empty list means
    the owner could not say.
    """
    import ray
    from ray.experimental import get_object_locations

    try:
        where = get_object_locations([ref], timeout_ms=10_000).get(ref)
    except Exception:  # noqa: BLE001 - an observation only: never fail a trial over it
        return None
    if not where or not where.get("node_ids"):
        return None
    return 0 if ray.get_runtime_context().get_node_id() in where["node_ids"] else 1


def _distinct_teachers(space, dataset) -> int:
    from kdsearch.spec.combos import categorical_configs

    return len({teacher_key(c, dataset.fingerprint) for c in categorical_configs(space)})



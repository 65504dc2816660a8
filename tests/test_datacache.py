"""The persistent cache of botocore's parsed data files (controller/aws/datacache.py).

Every test runs real `stackop plan` processes against moto server with its own
STACKOP_CACHE_DIR and compares their output with a plan that has the cache turned off
(STACKOP_CACHE_DIR=""). The plan is of tests/specs/network-only.yaml against an empty
moto: it makes no writes, and it creates every kind's client (13 services).
"""

from __future__ import annotations

import gzip
import json
import marshal
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import botocore
import botocore.session
import pytest
from botocore.loaders import Loader

from controller.aws.datacache import SUBDIR, CachedFileLoader, cache_root, cached_loader
from tests.conftest import BIN, ROOT, MotoServer, run_stackop

SPEC = ROOT / "tests" / "specs" / "network-only.yaml"
EC2_MODEL = Path(botocore.__file__).parent / "data" / "ec2" / "2016-11-15" / "service-2.json.gz"
Plan = tuple[int, str, str]


def plan(endpoint: str, cache: str | Path, **env: str) -> Plan:
    proc = run_stackop(
        "plan", str(SPEC), endpoint=endpoint, env={"STACKOP_CACHE_DIR": str(cache), **env}
    )
    return proc.returncode, proc.stdout, proc.stderr


def shown(result: Plan) -> Plan:
    """What a user sees, for comparison; stderr must hold no word of the cache."""
    assert "cache" not in result[2].lower(), result[2]
    return result


@pytest.fixture(scope="module")
def endpoint(moto_server: MotoServer) -> str:
    """One empty moto for the module: a plan writes nothing."""
    moto_server.reset()
    return moto_server.url


@pytest.fixture(scope="module")
def uncached(endpoint: str) -> Plan:
    result = plan(endpoint, "")
    assert result[0] == 2 and "to create" in result[1], result  # everything to create
    return shown(result)


@pytest.fixture(scope="module")
def warm(endpoint: str, uncached: Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache root filled by one plan (a template: tests copy it)."""
    root = tmp_path_factory.mktemp("warm")
    assert shown(plan(endpoint, root)) == uncached
    return root


def blobs(root: Path) -> dict[str, os.stat_result]:
    return {p.name: p.stat() for p in (root / SUBDIR).glob("*.marshal")}


def blob_of(root: Path, pattern: str) -> Path:
    (found,) = (root / SUBDIR).glob(pattern)
    return found


def copy_of(warm: Path, tmp_path: Path) -> Path:
    root = tmp_path / "cache"
    shutil.copytree(warm, root)
    return root


def ec2_model_text() -> str:
    return gzip.open(EC2_MODEL).read().decode()


def without_describe_vpcs(text: str) -> str:
    """ec2's model with DescribeVpcs renamed (same size): a plan then fails, in one line."""
    assert text.count('"DescribeVpcs":{') == 1
    return text.replace('"DescribeVpcs":{', '"DescribeVpcZ":{')


def test_the_first_plan_writes_the_cache_and_the_second_reads_it(
    endpoint: str, uncached: Plan, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    assert shown(plan(endpoint, root)) == uncached
    written = blobs(root)
    names = " ".join(written)
    for expected in ("ec2_2016-11-15_service-2", "endpoint-rule-set-1", "partitions"):
        assert expected in names, names
    assert len(written) >= 13 * 2, names  # a model and endpoint rules per client at least
    assert (root / SUBDIR).stat().st_mode & 0o777 == 0o700

    assert shown(plan(endpoint, root)) == uncached
    # Every file was served from its blob: a miss replaces the blob (a new inode).
    again = blobs(root)
    assert again.keys() == written.keys()
    for name, info in again.items():
        assert (info.st_ino, info.st_mtime_ns) == (
            written[name].st_ino,
            written[name].st_mtime_ns,
        ), name


def test_botocore_gets_what_the_blob_holds(endpoint: str, warm: Path, tmp_path: Path) -> None:
    """Proof that the plan reads the blob: one made (with a valid stamp) from an edited
    ec2 model changes the plan just as that model would."""
    root = copy_of(warm, tmp_path)
    source = str(EC2_MODEL)
    loader = CachedFileLoader(root / SUBDIR)
    edited = json.loads(without_describe_vpcs(ec2_model_text()))
    blob = loader.blob_path(source)
    assert blob.exists()
    blob.write_bytes(loader.stamp(source, os.stat(source)) + marshal.dumps(edited))
    code, out, err = plan(endpoint, root)
    assert code == 1 and "describe_vpcs" in err, (code, out, err)


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda blob: blob[: len(blob) // 2],
    "garbage": lambda blob: os.urandom(len(blob)),
    "empty": lambda blob: b"",
    # a valid stamp (so the payload is read) before garbage, or before a marshal'd int
    "stamped-garbage": lambda blob: blob[:32] + b"\xff\x00garbage" * 100,
    "stamped-int": lambda blob: blob[:32] + marshal.dumps(7),
    "stamped-truncated": lambda blob: blob[: 32 + (len(blob) - 32) // 3],
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_a_corrupt_blob_is_ignored_and_replaced(
    endpoint: str, uncached: Plan, warm: Path, tmp_path: Path, how: str
) -> None:
    root = copy_of(warm, tmp_path)
    corrupt = CORRUPTIONS[how]
    targets = [
        blob_of(root, "ec2_2016-11-15_service-2*"),
        blob_of(root, "*partitions*"),
        blob_of(root, "*service-2.listing*"),
    ]
    for blob in targets:
        blob.write_bytes(corrupt(blob.read_bytes()))
    assert shown(plan(endpoint, root)) == uncached
    for blob in targets:  # parsed afresh and written again, whole
        assert blob.read_bytes() == blob_of(warm, blob.name).read_bytes(), blob.name


def test_an_unusable_cache_dir_changes_nothing(
    endpoint: str, uncached: Plan, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    assert shown(plan(endpoint, a_file)) == uncached
    assert shown(plan(endpoint, "/proc/stackop-cache")) == uncached  # read-only filesystem
    # No home directory (HOME empty, no XDG_CACHE_HOME): off, and nothing written, not even
    # a relative "~/.cache" in the working directory.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "STACKOP_CACHE_DIR"}
    proc = subprocess.run(
        [str(BIN / "stackop"), "--endpoint-url", endpoint, "plan", str(SPEC)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "HOME": "", "XDG_CACHE_HOME": ""},
    )
    assert shown((proc.returncode, proc.stdout, proc.stderr)) == uncached
    assert not list(cwd.iterdir())


def test_a_cache_dir_that_refuses_writes_changes_nothing(
    endpoint: str, uncached: Plan, warm: Path, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    # every blob's name taken by a directory: each read and write fails (even as root)
    for name in blobs(warm):
        (root / SUBDIR / name).mkdir(parents=True)
    os.chmod(root / SUBDIR, 0o700)
    assert shown(plan(endpoint, root)) == uncached
    assert all(path.is_dir() for path in (root / SUBDIR).iterdir()), "no write, no temp file"
    if os.geteuid() != 0:  # root writes through permissions
        readonly = tmp_path / "readonly"
        (readonly / SUBDIR).mkdir(parents=True, mode=0o500)
        assert shown(plan(endpoint, readonly)) == uncached


def test_a_cache_dir_others_may_write_is_not_trusted(
    endpoint: str, uncached: Plan, warm: Path, tmp_path: Path
) -> None:
    """Endpoint rules decide where signed requests go: a blob in a directory others can
    write is never read (here a poisoned one), and none is written there."""
    root = copy_of(warm, tmp_path)
    source = str(EC2_MODEL)
    loader = CachedFileLoader(root / SUBDIR)
    blob = loader.blob_path(source)
    blob.write_bytes(loader.stamp(source, os.stat(source)) + marshal.dumps({"not": "ec2"}))
    os.chmod(root / SUBDIR, 0o777)
    before = blobs(root)
    assert shown(plan(endpoint, root)) == uncached
    assert blobs(root) == before


def test_an_edited_data_file_is_parsed_again(endpoint: str, uncached: Plan, tmp_path: Path) -> None:
    """A data file of our own (AWS_DATA_PATH, searched before botocore's) edited between
    plans: a new mtime, then a new size with the old mtime; never the stale blob."""
    data = tmp_path / "models"
    model = data / "ec2" / "2016-11-15" / "service-2.json"
    model.parent.mkdir(parents=True)
    text = ec2_model_text()
    model.write_text(text)
    root = tmp_path / "cache"
    env = {"AWS_DATA_PATH": str(data)}
    assert shown(plan(endpoint, root, **env)) == uncached
    assert blob_of(root, "ec2_2016-11-15_service-2.json-*").exists()

    first = model.stat()
    model.write_text(without_describe_vpcs(text))  # same size, new content
    os.utime(model, ns=(first.st_atime_ns, first.st_mtime_ns + 1_000_000_000))
    assert model.stat().st_size == first.st_size
    broken = shown(plan(endpoint, root, **env))
    assert broken == shown(plan(endpoint, "", **env))
    assert broken[0] == 1 and "describe_vpcs" in broken[2], broken

    second = model.stat()
    model.write_text(text + "\n")  # the working model again, one byte longer, same mtime
    os.utime(model, ns=(second.st_atime_ns, second.st_mtime_ns))
    assert shown(plan(endpoint, root, **env)) == uncached


def test_the_service_listing_comes_from_its_blob(endpoint: str, warm: Path, tmp_path: Path) -> None:
    """botocore lists its data directory (~1,300 directory reads) to check a client's
    service name; the listing's blob is what a plan believes: one without ec2 (with a valid
    stamp) makes the plan fail on ec2, as botocore would without ec2's model."""
    root = copy_of(warm, tmp_path)
    data = os.path.dirname(EC2_MODEL.parent.parent)
    loader = CachedFileLoader(root / SUBDIR)
    listed = loader.listing(data, "service-2")
    assert listed == Loader().list_available_services("service-2")  # botocore's own answer
    assert "ec2" in listed and len(listed) > 300
    blob = blob_of(root, "*service-2.listing*")
    stamp = blob.read_bytes()[:32]
    blob.write_bytes(stamp + marshal.dumps([s for s in listed if s != "ec2"]))
    code, out, err = plan(endpoint, root)
    assert code == 1 and "ec2" in err, (code, out, err)


def test_other_data_paths_are_listed_afresh(warm: Path, tmp_path: Path) -> None:
    """A model under AWS_DATA_PATH (~/.aws/models, say) is found the moment it is there:
    only botocore's own directory, which only an upgrade changes, is listed from a blob."""
    root = copy_of(warm, tmp_path)
    data = tmp_path / "models"
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(data))
    before = cached_loader(session, root / SUBDIR).list_available_services("service-2")
    assert "stackop-own" not in before
    model = data / "stackop-own" / "2026-12-01" / "service-2.json"
    model.parent.mkdir(parents=True)
    model.write_text("{}")
    after = cached_loader(session, root / SUBDIR).list_available_services("service-2")
    assert sorted({*before, "stackop-own"}) == after


def test_where_the_cache_lives() -> None:
    home = Path(os.path.expanduser("~"))
    assert cache_root({}) == home / ".cache" / "stackop"
    assert cache_root({"STACKOP_CACHE_DIR": ""}) is None
    assert cache_root({"STACKOP_CACHE_DIR": "", "XDG_CACHE_HOME": "/x"}) is None
    assert cache_root({"STACKOP_CACHE_DIR": "/c/d"}) == Path("/c/d")
    assert cache_root({"XDG_CACHE_HOME": "/x"}) == Path("/x/stackop")
    assert cache_root({"XDG_CACHE_HOME": "relative"}) == home / ".cache" / "stackop"

"""The installed wheel, used from a project of someone else's.

A Django project's usual layout has a top-level ``config`` package of its
own; the wheel must not install one too (it used to), and its data files
(the default policies, the Lua scripts) must travel with it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("deadline_reminders-*.whl")
    yield built


def test_the_wheel_installs_no_config_package_and_carries_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names if "/" in name}

    assert "config" not in top
    assert {"reminders", "channels", "workers", "web", "demo"} <= top
    assert "reminders/policies.toml" in names
    assert {"reminders/redis/lua/cas.lua", "channels/lua/sandbox_accept.lua"} <= set(names)


def test_connect_works_beside_a_project_config_package(
    wheel: Path, tmp_path: Path, redis_url: str
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The wheel alone in the new environment; its dependencies from ours,
    # after it on the path (a .pth line is a plain path: our editable
    # install's finder is not loaded from there).
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    (project / "config" / "__init__.py").write_text("NAME = 'the project settings'\n")
    (project / "config" / "settings.py").write_text("DEBUG = False\n")
    script = textwrap.dedent(
        """
        import config
        import reminders
        from datetime import timedelta

        svc = reminders.connect()
        svc.add_agency("saaq", name_fr="SAAQ", name_en="SAAQ")
        due = svc.clock.now() + timedelta(days=10)
        receipt = svc.register(reminders.Deadline(
            agency="saaq", ref="from-django", due=due, title={"fr": "Renouveler"},
            citizen=reminders.Citizen(email="a@example.ca"),
        ))
        assert config.NAME == "the project settings", config.__file__
        assert reminders.__file__.startswith(SITE), reminders.__file__
        print(len(receipt.reminders), receipt.created)
        """
    ).replace("SITE", repr(site))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "REMINDERS_REDIS_URL": redis_url,
        "REMINDERS_KEY_PREFIX": f"pkg{secrets.token_hex(3)}:",
        "REMINDERS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REMINDERS_HASH_KEY": secrets.token_urlsafe(32),
    }
    done = subprocess.run(
        [str(python), "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    planned, created = done.stdout.split()
    assert created == "True"
    assert int(planned) >= 1

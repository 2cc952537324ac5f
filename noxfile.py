"""nox sessions: `nox -s tests` runs the test suite, `nox -s docs` builds the docs (warnings are errors)."""

import nox

nox.options.sessions = ["tests", "docs"]
# The venvs see the system's packages (torch is large); everything of ours is installed editable.
nox.options.reuse_existing_virtualenvs = True


def _install(session):
    session.install("--no-build-isolation", "--no-index", "-r", "requirements.txt")


@nox.session(venv_params=["--system-site-packages"])
def tests(session):
    _install(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(venv_params=["--system-site-packages"])
def docs(session):
    _install(session)
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)

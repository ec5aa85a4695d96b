"""nbgrader configuration of the course (nbgrader reads it only from the current directory).

solutions/chNN_slug/  instructor source, cells marked with tags (see llmcourse.grading.authoring)
notebooks/chNN_slug/  student release, made by `nbgrader generate_assignment` and committed
The gradebook lives in .nbgrader/ (ignored by git). Instructors grade with `make grade`.
"""
import os
import sys

from nbgrader.converters import GenerateAssignment

from llmcourse.grading.authoring import TagsToNbgrader, repository_url

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = root
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, ".nbgrader", "gradebook.db")
os.makedirs(os.path.join(root, ".nbgrader"), exist_ok=True)
# nbgrader runs the `alembic` command when it creates a gradebook; without this, a fresh
# `.venv/bin/nbgrader ...` (virtualenv not activated) fails with "No such file: 'alembic'".
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

# Tags → nbgrader metadata first, then nbgrader's own preprocessors.
c.GenerateAssignment.preprocessors = [TagsToNbgrader] + list(
    GenerateAssignment.class_traits()["preprocessors"].default()
)
# Every student notebook starts with a cell that installs the course package from the repository
# named in the book's _config.yml (the one place the address is set), so a downloaded copy runs.
c.TagsToNbgrader.repository_url = repository_url(os.path.join(root, "_config.yml"))
# Per-cell time limit while grading (llmcourse.grading adds a per-notebook limit, 300 s by
# default). An endless loop costs this much for every test cell that calls the looping function,
# so it stays well under the per-notebook limit; a whole solution notebook runs in under 30 s.
c.Execute.timeout = 30

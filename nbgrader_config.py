"""nbgrader configuration of the course (nbgrader reads it only from the current directory).

solutions/chNN_slug/  instructor source, cells marked with tags (see llmcourse.authoring)
notebooks/chNN_slug/  student release, made by `nbgrader generate_assignment` and committed
The gradebook lives in .nbgrader/ (ignored by git). Instructors grade with `make grade`.
"""
import os

from nbgrader.converters import GenerateAssignment

from llmcourse.authoring import TagsToNbgrader

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = root
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, ".nbgrader", "gradebook.db")
os.makedirs(os.path.join(root, ".nbgrader"), exist_ok=True)

# Tags → nbgrader metadata first, then nbgrader's own preprocessors.
c.GenerateAssignment.preprocessors = [TagsToNbgrader] + list(
    GenerateAssignment.class_traits()["preprocessors"].default()
)
# Per-cell time limit while autograding (llmcourse.grade adds a per-notebook limit).
c.Execute.timeout = 60

"""Models: MulT teacher, video-only students, and the attention layers that expose their maps."""

from kdsearch.models.build import (
    STUDENT_DEFAULTS,
    TEACHER_DEFAULTS,
    build_student,
    build_teacher,
    count_parameters,
)
from kdsearch.models.mult_teacher import BRANCH_PAIRS, MulTTeacher
from kdsearch.models.output import ModelOutput, pair_name
from kdsearch.models.video_student import (
    DISTILLED_PAIRS,
    STUDENT_CONFIGS,
    TEACHER_BRANCH_FOR_CONFIG,
    VideoStudent,
)

__all__ = [
    "BRANCH_PAIRS", "DISTILLED_PAIRS", "STUDENT_CONFIGS", "STUDENT_DEFAULTS", "TEACHER_BRANCH_FOR_CONFIG",
    "TEACHER_DEFAULTS", "ModelOutput", "MulTTeacher", "VideoStudent", "build_student", "build_teacher",
    "count_parameters", "pair_name",
]

"""Seed a provisioned Kolibri with the benchmark's class. Runs INSIDE Kolibri's own Python
(`kolibri manage shell`), so it imports Kolibri and Django only, never Ardoise.

Creates: a coach, one class of 30 learners (each with their own password), a small local
channel (a topic with HTML, document, video and exercise nodes, marked available, so the
lessons and quizzes point at real content nodes), 3 active lessons and 2 active quizzes
assigned to the class. Reads its parameters from BENCH_SEED_IN (JSON) and writes what the
benchmark needs (facility id, usernames and passwords) to BENCH_SEED_OUT.
"""

import json
import os
import uuid

from django.db import transaction
from kolibri.core.auth.constants import role_kinds
from kolibri.core.auth.models import Classroom, Facility, FacilityUser, Membership
from kolibri.core.content.models import ChannelMetadata, ContentNode
from kolibri.core.exams.models import Exam, ExamAssignment
from kolibri.core.lessons.models import Lesson, LessonAssignment
from le_utils.constants import content_kinds

with open(os.environ["BENCH_SEED_IN"]) as f:
    params = json.load(f)


def _node(channel_id, parent, title, kind):
    return ContentNode.objects.create(
        id=uuid.uuid4().hex, content_id=uuid.uuid4().hex, channel_id=channel_id,
        parent=parent, title=title, kind=kind, available=True, description=title,
        license_name="CC BY", author="Ardoise bench")


with transaction.atomic():
    facility = Facility.get_default_facility() or Facility.objects.get()
    dataset = facility.dataset
    dataset.learner_can_login_with_no_password = False
    dataset.learner_can_sign_up = False
    dataset.save()

    coach = FacilityUser(username="mme.roy", full_name="Mme Roy", facility=facility)
    coach.set_password(params["coach_password"])
    coach.save()
    facility.add_role(coach, role_kinds.ASSIGNABLE_COACH)
    classroom = Classroom.objects.create(name="5e année", parent=facility)
    classroom.add_coach(coach)

    learners = []
    for i, password in enumerate(params["learner_passwords"], start=1):
        user = FacilityUser(username=f"eleve{i:02d}", full_name=f"Élève {i:02d}",
                            facility=facility)
        user.set_password(password)
        user.save()
        Membership.objects.create(user=user, collection=classroom)
        learners.append({"id": user.id, "username": user.username, "password": password})

    channel_id = uuid.uuid4().hex
    root = _node(channel_id, None, "Français et sciences, cycle 2", content_kinds.TOPIC)
    kinds = [content_kinds.HTML5, content_kinds.DOCUMENT, content_kinds.VIDEO,
             content_kinds.HTML5, content_kinds.DOCUMENT, content_kinds.AUDIO]
    resources = [_node(channel_id, root, f"Leçon {n + 1}", kind)
                 for n, kind in enumerate(kinds)]
    exercises = [_node(channel_id, root, f"Exercice {n + 1}", content_kinds.EXERCISE)
                 for n in range(2)]
    ChannelMetadata.objects.create(
        id=channel_id, name="Banc d'essai", description="Local channel for the benchmark",
        min_schema_version="1", root=root, version=1, public=False,
        total_resource_count=len(resources) + len(exercises))
    ContentNode.objects.filter(channel_id=channel_id).update(on_device_resources=1)

    for n in range(3):
        lesson = Lesson.objects.create(
            title=f"Leçon de la semaine {n + 1}", description="Lire et répondre",
            resources=[{"contentnode_id": r.id, "content_id": r.content_id,
                        "channel_id": channel_id} for r in resources[2 * n:2 * n + 2]],
            is_active=True, collection=classroom, created_by=coach)
        LessonAssignment.objects.create(lesson=lesson, collection=classroom,
                                        assigned_by=coach)
    for n, ex in enumerate(exercises):
        questions = [{"exercise_id": ex.id, "question_id": uuid.uuid4().hex,
                      "title": f"{ex.title} - question {q + 1}", "counter_in_exercise": q + 1,
                      "item": f"{ex.id}:{q}"} for q in range(5)]
        exam = Exam.objects.create(
            title=f"Quiz {n + 1}", question_count=len(questions),
            question_sources=[{"section_id": uuid.uuid4().hex, "section_title": "Section 1",
                               "description": "", "question_count": len(questions),
                               "learners_see_fixed_order": False,
                               "questions": questions}],
            data_model_version=3, active=True, collection=classroom, creator=coach)
        ExamAssignment.objects.create(exam=exam, collection=classroom, assigned_by=coach)

with open(os.environ["BENCH_SEED_OUT"], "w") as out:
    json.dump({"facility_id": facility.id, "classroom_id": classroom.id,
               "coach": {"username": coach.username, "password": params["coach_password"]},
               "learners": learners}, out)
print("seeded", len(learners), "learners")

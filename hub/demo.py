"""A demo school to try the hub with: one teacher, a class of 30, the demo pack, two
published assignments. Sign-in details are generated at every run (never fixed ones):
running the demo again issues new ones and keeps everything else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from content_packs import InstalledPack, install_pack
from hub.classwork import create_assignment
from hub.models import AssignmentStatus, Classroom, Role, School, User
from hub.people.accounts import Issued, create_user, reset_class_codes, reset_password
from hub.people.schools import create_classroom, create_school, enroll

DEMO_SCHOOL_CODE = "demo"
DEMO_PACK = Path(__file__).resolve().parents[1] / "demo" / "packs" / "decouverte"

STUDENT_NAMES = (
    "Léa Tremblay", "William Gagnon", "Florence Roy", "Thomas Côté", "Alice Bouchard",
    "Liam Gauthier", "Emma Morin", "Noah Lavoie", "Charlotte Fortin", "Jacob Gagné",
    "Olivia Ouellet", "Nathan Pelletier", "Béatrice Bélanger", "Félix Lévesque",
    "Rosalie Bergeron", "Édouard Leblanc", "Juliette Paquette", "Samuel Girard",
    "Zoé Simard", "Raphaël Boucher", "Maëlle Caron", "Antoine Beaulieu", "Clara Cloutier",
    "Mathis Dubé", "Chloé Poirier", "Émile Fournier", "Mia Lapointe", "Arthur Leclerc",
    "Éloïse Lefebvre", "Louis Poulin",
)


@dataclass
class DemoSchool:
    school: School
    classroom: Classroom
    teacher: Issued
    admin: Issued
    students: list[Issued]
    pack: InstalledPack | None


def seed_demo(s: Session, data_dir: Path, *, pack_folder: Path = DEMO_PACK,
              n_students: int = 30) -> DemoSchool:
    """Create the demo school (first run) or issue fresh sign-in details (later runs)."""
    school = s.scalar(select(School).where(School.code == DEMO_SCHOOL_CODE))
    if school is None:
        return _create(s, data_dir, pack_folder, n_students)
    classroom = s.scalars(select(Classroom).where(Classroom.school_id == school.id)
                          .order_by(Classroom.created_at)).first()
    teacher = s.scalar(select(User).where(User.school_id == school.id,
                                          User.role == Role.TEACHER))
    admin = s.scalar(select(User).where(User.school_id == school.id, User.role == Role.ADMIN))
    assert classroom is not None and teacher is not None and admin is not None
    demo = DemoSchool(school, classroom, reset_password(s, teacher), reset_password(s, admin),
                      reset_class_codes(s, classroom), None)
    s.commit()
    return demo


def _create(s: Session, data_dir: Path, pack_folder: Path, n_students: int) -> DemoSchool:
    pack = install_pack(s, data_dir, pack_folder)
    school = create_school(s, "École de démonstration", DEMO_SCHOOL_CODE)
    classroom = create_classroom(s, school, "Classe de Mme Gagnon", grade="5")
    teacher = create_user(s, school, Role.TEACHER, "Isabelle Gagnon")
    enroll(s, classroom, teacher.user)
    admin = create_user(s, school, Role.ADMIN, "Technicien du CSS")
    names = [STUDENT_NAMES[i % len(STUDENT_NAMES)] + ("" if i < len(STUDENT_NAMES)
                                                      else f" {i // len(STUDENT_NAMES) + 1}")
             for i in range(n_students)]
    students = [create_user(s, school, Role.STUDENT, name, classroom=classroom)
                for name in names]
    s.commit()
    now = utcnow()
    create_assignment(
        s, teacher.user, classroom.id, title="Le cycle de l'eau",
        instructions="Regarde la vidéo, lis la leçon, puis explique dans tes mots comment "
                     "la pluie revient à la mer. Tu peux remettre une photo de ton schéma.",
        due_at=now + dt.timedelta(days=7),
        resource_uids=[f"{pack.pack_id}/video-cycle-eau", f"{pack.pack_id}/cycle-eau",
                       f"{pack.pack_id}/schema-cycle-eau"],
        status=AssignmentStatus.PUBLISHED)
    create_assignment(
        s, teacher.user, classroom.id, title="Les fractions",
        instructions="Fais la fiche d'exercices et remets une photo de ta feuille.",
        due_at=now + dt.timedelta(days=10),
        resource_uids=[f"{pack.pack_id}/fractions", f"{pack.pack_id}/fiche-fractions"],
        status=AssignmentStatus.PUBLISHED)
    return DemoSchool(school, classroom, teacher, admin, students, pack)

"""Signing in: password and code hashing, rate limiting of failures, and the checks
themselves. Pages and API endpoints call these; they hold no rules of their own."""

from hub.auth.codes import (
    PICTURE_BY_NAME,
    PICTURE_CODE_LENGTH,
    PICTURES,
    Picture,
    check_picture_code,
    check_pin,
    generate_picture_code,
    generate_pin,
    hash_code,
    is_pin,
    normalize_code,
    pictures_of,
    verify_code,
)
from hub.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    check_password_rules,
    generate_password,
    hash_password,
    verify_password,
)
from hub.auth.ratelimit import Limits
from hub.auth.signin import ROLE_HOME, authenticate_staff, authenticate_student, role_home

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PICTURES",
    "PICTURE_BY_NAME",
    "PICTURE_CODE_LENGTH",
    "ROLE_HOME",
    "Limits",
    "Picture",
    "authenticate_staff",
    "authenticate_student",
    "check_password_rules",
    "check_picture_code",
    "check_pin",
    "generate_password",
    "generate_picture_code",
    "generate_pin",
    "hash_code",
    "hash_password",
    "is_pin",
    "normalize_code",
    "pictures_of",
    "role_home",
    "verify_code",
    "verify_password",
]

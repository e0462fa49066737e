"""Builders for the four structured actions, as the step endpoints accept them.

>>> ask("When did the pain start?")
{'type': 'ask', 'text': 'When did the pain start?'}
>>> order("CBC", "lipase")
{'type': 'order', 'tests': ['CBC', 'lipase']}
"""

from __future__ import annotations

from typing import Optional

from .types import ActionJSON


def ask(text: str) -> ActionJSON:
    """Ask the patient one or more questions."""
    return {"type": "ask", "text": text}


def examine(system: str) -> ActionJSON:
    """Examine one or more systems, by id or in words (``"heart and lungs"``)."""
    return {"type": "examine", "system": system}


def order(*tests: str) -> ActionJSON:
    """Order tests, each by catalogue id or in words."""
    if not tests:
        raise ValueError("order() needs at least one test")
    return {"type": "order", "tests": list(tests)}


def diagnose(diagnosis: str, icd10: Optional[str] = None) -> ActionJSON:
    """Commit to a final diagnosis (ends the episode); the ICD-10-CM code is optional."""
    action: ActionJSON = {"type": "diagnose", "diagnosis": diagnosis}
    if icd10 is not None:
        action["icd10"] = icd10
    return action

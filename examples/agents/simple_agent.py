#!/usr/bin/env python3
"""A dxsim `cmd:` agent: JSON lines in on stdin, one action out per reset/step (see docs/agents.md).
Run it with: dxsim eval --agent "cmd:python3 examples/agents/simple_agent.py" --out runs/simple"""
import json, sys

PLAN = [  # the same short work-up for every patient, then a guess
    {"type": "ask", "text": "When did this start, and what does it feel like?"},
    {"type": "ask", "text": "Any other symptoms, medical conditions or medications?"},
    {"type": "examine", "system": "vital signs"},
    {"type": "order", "tests": ["cbc", "bmp"]},
]
turn = 0
for line in sys.stdin:
    message = json.loads(line)
    if message["event"] == "end":  # the episode is over: no answer, get ready for the next one
        turn = 0
        continue
    action = PLAN[turn] if turn < len(PLAN) else {"text": "DIAGNOSIS READY: viral infection"}
    turn += 1
    print(json.dumps(action), flush=True)

"""One inbound call: its story (``story``), its states (``states``), and its parts.

``story.py``      the life of a call, start to end, in a page: read it first
``states.py``     the call's states and the transition table
``events.py``     the call's inbox: ARI events and its own timers, in order
``intake.py``     which part of the call each event concerns
``legs.py``       ring attempts: what an event means for a leg (pure), claims, ends
``hunt.py``       one hunting pass: waves of phones from the group's strategy
``media.py``      what the caller hears: ringback, early media, music, prompts, answer
``menu_walk.py``  the voice menu dialogue
``queue.py``      overflow to a queue: waiting for a phone to free
``recorder.py``   the call's records, written in order
``recording.py``  recording the call's bridge (通话录音), beside the call
``adoption.py``   catching up after a gap; taking a call back after a restart
``registry.py``   the router's live calls, by channel
``services.py``   what a call needs from the router
"""

from router.call.events import CallerLeft, CallEvent, Reconcile
from router.call.legs import Leg
from router.call.registry import CallRegistry
from router.call.services import Services
from router.call.states import State
from router.call.story import Call, start_call

__all__ = ["Call", "CallEvent", "CallRegistry", "CallerLeft", "Leg", "Reconcile", "Services",
           "State", "start_call"]

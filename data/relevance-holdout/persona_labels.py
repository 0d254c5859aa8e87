"""Hand-made relevance judgements of the hold-out set, keyed by position in
``../relevance/papers.jsonl`` (0-based).

``LIKES`` are the 2-3 papers each persona would pick as "papers like these" (chosen second, after
the profiles and before the grades). ``LABELS`` holds every paper's grade for every persona:
2 relevant, 1 partly relevant, 0 not relevant, each with a short reason. Papers a persona does not
list get grade 0 with ``OFF_TOPIC``. See README.md for how they were made.
"""

from __future__ import annotations

OFF_TOPIC = "off-topic"

LIKES: dict[str, list[int]] = {
    # Data scaling for real-robot manipulation; exoskeleton demonstrations; bimanual teleoperation.
    "robot-learning": [92, 136, 114],
    # Agent-R (reflection via MCTS self-training), AgentRefine, RISE (recursive introspection).
    "llm-agents": [79, 30, 14],
    # Cognitive behaviours of self-improving reasoners, SCoRe self-correction, test-time compute.
    "llm-reasoning": [1, 54, 124],
    # In-context scheming, alignment faking, weak-to-strong deception.
    "ai-safety": [44, 53, 130],
    # Emergent abilities a mirage, variance in benchmarks, predicting downstream capabilities.
    "llm-evaluation": [25, 139, 119],
    # Induction-head circuits, entropic activation steering, model surgery by parameter editing.
    "interpretability": [37, 31, 64],
    # Dynamical linear bandits, offline RL vs imitation (pessimism), conservative exploration.
    "rl-theory": [51, 121, 43],
    # Foundation policies (HILP), representation learning from videos, DrM for visual RL.
    "rl-representations": [34, 55, 134],
    # Generative agents, repeated games with LLMs, cultural evolution of cooperation.
    "llm-social-sim": [74, 35, 8],
    # Imitation threshold of text-to-image models, streaming diffusion policy, video generation vs world model.
    "diffusion-models": [91, 120, 42],
}

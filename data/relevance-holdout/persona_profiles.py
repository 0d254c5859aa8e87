"""Persona profiles of the hold-out relevance set: who each researcher is and the alert keywords
they would type.

Written first, from the research interests alone, before any paper was chosen as a like or
labelled, and not revised afterwards (see README.md). The keywords are what such a person would
plausibly put into an arXiv alert; whether they match this corpus was not checked.
"""

from __future__ import annotations

PROFILES: list[dict] = [
    {
        "id": "robot-learning",
        "description": (
            "A robot learning researcher who trains manipulation policies for real robot arms and "
            "hands. She follows learning from demonstrations collected by teleoperation, "
            "exoskeletons or human videos, diffusion and transformer policies, and how the amount "
            "and quality of demonstration data affect generalisation. Dexterous and bimanual "
            "manipulation, deformable objects and long-horizon tasks are her core interests. "
            "Simulation-only control work without a manipulation angle, locomotion and driving "
            "matter much less to her."
        ),
        "keywords": ["robot manipulation", "diffusion policy", "dexterous", "teleoperation", "visuomotor"],
    },
    {
        "id": "llm-agents",
        "description": (
            "An NLP researcher who builds agents on top of large language models that act over many "
            "steps: tool use, web and coding tasks, interactive text environments. He reads about "
            "training agents on their own trajectories (self-improvement, reflection, refinement "
            "tuning), planning for LLM agents with empirical or provable guarantees, and ways to "
            "specify and control what an agent does. Benchmarks of agents are interesting; "
            "multi-agent social simulations only when they teach something about building agents."
        ),
        "keywords": [
            "LLM agents",
            "language agents",
            "tool use",
            "agentic",
            "self-improvement",
            "reflection",
        ],
    },
    {
        "id": "llm-reasoning",
        "description": (
            "A researcher working on reasoning in large language models, above all mathematical "
            "reasoning trained with reinforcement learning on verifiable rewards. She follows o1-style "
            "long chains of thought, self-correction and self-verification, scaling test-time "
            "compute, and distilling reasoning into smaller models. Papers explaining why some base "
            "models improve under RL and others plateau are core reading. LLM evaluation without a "
            "reasoning angle, and RL outside language models, are out of scope."
        ),
        "keywords": ["chain of thought", "reasoning", "test-time compute", "self-correct*", "math*"],
    },
    {
        "id": "ai-safety",
        "description": (
            "An AI safety researcher concerned with whether frontier models behave as intended. He "
            "follows evidence of deception, scheming and alignment faking, weak-to-strong "
            "supervision, reward misspecification, and how safety training shapes refusals "
            "(harmful compliance as well as over-refusal of benign requests). Adversarial attacks "
            "on models and agents, and abstention under uncertainty, are relevant when they bear on "
            "deploying models safely. Capability papers with no safety angle are not."
        ),
        "keywords": ["alignment", "deception", "jailbreak*", "refusal", "AI safety", "scheming"],
    },
    {
        "id": "llm-evaluation",
        "description": (
            "A researcher in evaluation methodology for language models. She studies how benchmarks "
            "are built and how far their numbers can be trusted (variance, human baselines, "
            "metrics), whether scale predicts downstream abilities, and claims of emergent abilities "
            "and inverse scaling. She also reads cognitive-science style evaluations that compare "
            "models with children or adults, and work on what a test of intelligence should "
            "measure. Papers that merely report a new model's scores are not what she wants."
        ),
        "keywords": [
            "benchmark*",
            "evaluation methodology",
            "scaling laws",
            "emergent abilities",
            "inverse scaling",
        ],
    },
    {
        "id": "interpretability",
        "description": (
            "A mechanistic interpretability researcher who wants to understand what happens inside "
            "neural networks, mostly transformers. He follows circuits such as induction heads, "
            "probing of learned representations, learning dynamics that explain when a capability "
            "appears, and methods that act on the internals: activation steering, model editing and "
            "targeted unlearning. Attribution methods that explain a model's outputs are of "
            "secondary interest; behavioural benchmarks that never look inside the model are out "
            "of scope."
        ),
        "keywords": [
            "interpretability",
            "mechanistic",
            "circuits",
            "activation steering",
            "model editing",
            "probing",
        ],
    },
    {
        "id": "rl-theory",
        "description": (
            "A theoretician in reinforcement learning and online decision making. She works on "
            "bandits (contextual, non-stationary, with structured payoffs), regret bounds, the "
            "sample complexity of exploration, and constrained or safe exploration. Offline RL "
            "theory, such as pessimism and the link between offline RL and imitation learning, is "
            "also core. Applied deep RL papers matter to her only when they come with guarantees or "
            "pose a clear theoretical question."
        ),
        "keywords": ["bandit*", "regret", "sample complexity", "minimax", "provabl*"],
    },
    {
        "id": "rl-representations",
        "description": (
            "A deep RL researcher interested in representation learning and pretraining for "
            "control. He follows unsupervised and zero-shot RL, foundation policies, learning "
            "behaviour and representations from unlabelled videos, world models and model-based RL, "
            "and what makes visual RL sample-efficient. Loss of plasticity and continual RL are also "
            "on his radar. LLM papers are out of scope unless they are about agents acting in "
            "environments."
        ),
        "keywords": [
            "representation learning",
            "model-based reinforcement learning",
            "world model*",
            "unsupervised reinforcement learning",
            "visual reinforcement learning",
        ],
    },
    {
        "id": "llm-social-sim",
        "description": (
            "A computational social scientist who uses language models as simulated people. She "
            "follows generative agents and agent-based societies, LLMs playing economic and social "
            "games (cooperation, repeated games, social deduction), role-play and persona "
            "simulation, and whether LLM choices match human behaviour and cognitive biases. Theory "
            "of mind in LLMs is relevant. Pure capability or agent-engineering papers are not."
        ),
        "keywords": [
            "agent-based model*",
            "social simulation",
            "generative agents",
            "game theory",
            "theory of mind",
        ],
    },
    {
        "id": "diffusion-models",
        "description": (
            "A generative modelling researcher working on diffusion models. He follows diffusion and "
            "score-based models for images and video, faster sampling, and uses of diffusion beyond "
            "images such as diffusion policies for control and diffusion in text generation. He "
            "also tracks the societal side of image generation: style mimicry and copyright, "
            "protecting images against misuse, and whether people can tell generated media from "
            "real. Video generation as a world simulator is relevant too."
        ),
        "keywords": ["diffusion model*", "score-based", "denoising", "text-to-image", "video generation"],
    },
]

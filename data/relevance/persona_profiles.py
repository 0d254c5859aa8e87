"""Persona profiles for the relevance evaluation set: id, description and alert keywords.

Written before any paper was labelled: the keywords are what each researcher would type into a
paper alert, chosen from the description alone (not tuned against the labels, which came later
and live in ``persona_labels.py``). ``make_personas.py`` joins both into ``personas.yaml``.
"""

from __future__ import annotations

PROFILES: list[dict] = [
    {
        "id": "robot-manip-video",
        "description": (
            "I work on robot manipulation policies learned from human data rather than expensive "
            "teleoperation alone: learning from human videos without action labels, cross-embodiment "
            "transfer from human hands to robot grippers, visual representations pretrained for "
            "visuomotor control, and cheap ways to collect demonstrations in the wild. I care about "
            "policies that work on real robots doing real manipulation tasks."
        ),
        "keywords": [
            "learning from human videos",
            "cross-embodiment",
            "robot manipulation",
            "visuomotor",
            "imitation from observation",
            "egocentric video",
        ],
    },
    {
        "id": "imitation-learning",
        "description": (
            "I study imitation learning as a learning problem: behavioural cloning and its "
            "compounding-error problem, inverse RL, adversarial imitation (GAIL-style), interactive "
            "imitation such as DAgger, and what makes demonstration data good or bad. I read theory "
            "and algorithm papers; application papers only matter to me if they teach something "
            "about the imitation problem itself."
        ),
        "keywords": [
            "imitation learning",
            "behavior cloning",
            "inverse reinforcement learning",
            "GAIL",
            "DAgger",
            "learning from demonstrations",
        ],
    },
    {
        "id": "rl-theory-offline",
        "description": (
            "My work is on the theory and algorithms of reinforcement learning, especially offline "
            "(batch) RL: pessimism, coverage and concentrability, sample complexity and regret bounds, "
            "and how the composition of a fixed dataset limits what a policy can learn from it. I also "
            "follow exploration theory and bandits when they say something about sample efficiency."
        ),
        "keywords": [
            "offline RL",
            "offline reinforcement learning",
            "sample complexity",
            "regret",
            "pessimism",
            "bandit*",
        ],
    },
    {
        "id": "world-models",
        "description": (
            "I'm interested in world models: learning predictive models of how an environment evolves "
            "(video prediction, latent dynamics, intuitive physics) and using them for planning and "
            "control, as in model-based RL. I especially want papers that test whether generative "
            "video models really learn physical dynamics, and papers on dynamics models for agents."
        ),
        "keywords": [
            "world model*",
            "video prediction",
            "model-based reinforcement learning",
            "dynamics model",
            "video generation",
            "intuitive physics",
        ],
    },
    {
        "id": "llm-safety",
        "description": (
            "I work on the safety behaviour of LLMs and multimodal LLMs: refusals and over-refusal "
            "(models rejecting perfectly benign requests), jailbreaks, toxicity, and the alignment "
            "failure modes now showing up in frontier models, such as deception and scheming. I care "
            "about how safety training changes behaviour and how to measure that."
        ),
        "keywords": [
            "over-refusal",
            "jailbreak*",
            "LLM safety",
            "oversensitiv*",
            "refusal",
            "alignment",
        ],
    },
    {
        "id": "code-agents",
        "description": (
            "I build LLM agents that write and run code and call tools: program synthesis with "
            "execution feedback, self-debugging and self-repair, fine-tuning agents on interaction "
            "trajectories, and frameworks that structure or constrain agent behaviour. Coding "
            "benchmarks like HumanEval and multi-step interactive environments are my daily bread."
        ),
        "keywords": [
            "code generation",
            "LLM agent*",
            "tool use",
            "program synthesis",
            "self-debugging",
            "function calling",
        ],
    },
    {
        "id": "efficient-inference",
        "description": (
            "I work on making inference cheap and fast: fewer FLOPs and lower latency per prediction, "
            "sparse and mixture-of-experts models, faster sampling for diffusion models, state-space "
            "alternatives to attention, and allocating inference compute sensibly. I follow both "
            "language models and learned control policies where latency matters."
        ),
        "keywords": [
            "efficient inference",
            "latency",
            "mixture of experts",
            "quantization",
            "speculative decoding",
            "inference cost",
        ],
    },
    {
        "id": "rlhf-reward",
        "description": (
            "I research reward modelling and learning from human feedback: preference data, reward "
            "models and how they fail (reward hacking, misspecification), RLHF- and DPO-style "
            "post-training, and process or verifier rewards. Preference-based RL outside language "
            "interests me too when the lessons transfer."
        ),
        "keywords": [
            "RLHF",
            "reward model*",
            "preference learning",
            "human feedback",
            "reward hacking",
            "DPO",
        ],
    },
    {
        "id": "llm-reasoning",
        "description": (
            "I work on reasoning in large language models: chain-of-thought, RL on verifiable tasks "
            "such as math and code, self-correction and self-verification, distilling reasoning into "
            "smaller models, and how best to spend test-time compute. I want to know what actually "
            "makes models reason better, o1-style."
        ),
        "keywords": [
            "chain of thought",
            "reasoning",
            "test-time compute",
            "self-correction",
            "math reasoning",
            "o1",
        ],
    },
    {
        "id": "llm-social-sim",
        "description": (
            "I'm a computational social scientist who uses LLM-based agents to simulate people and "
            "societies: multi-agent interaction, cooperation and game-theoretic behaviour, social "
            "network dynamics, and whether LLMs are valid stand-ins for human participants in "
            "surveys and behavioural experiments."
        ),
        "keywords": [
            "LLM agents",
            "social simulation",
            "agent-based model*",
            "game theory",
            "human behavior",
            "cooperation",
        ],
    },
    {
        "id": "eval-scaling",
        "description": (
            "I work on evaluation methodology for language models: benchmark design, the statistical "
            "reliability of evaluations, scaling laws and predicting capabilities from scale, and "
            "claims of emergence. I want papers that question how we measure capabilities, not just "
            "new leaderboard numbers."
        ),
        "keywords": [
            "scaling law*",
            "emergent abilities",
            "benchmark*",
            "evaluation",
            "inverse scaling",
        ],
    },
    {
        "id": "interpretability",
        "description": (
            "I do mechanistic interpretability and model editing: circuits, linear probes, activation "
            "steering, how capabilities form during training, and targeted interventions on weights "
            "or activations that change a model's behaviour in a controlled way."
        ),
        "keywords": [
            "mechanistic interpretability",
            "activation steering",
            "induction head*",
            "model editing",
            "probing",
            "circuits",
        ],
    },
    {
        "id": "comp-ethology",
        "description": (
            "I'm a neuroscientist doing computational ethology: quantifying animal behaviour from "
            "video with pose estimation and machine learning, and building tools so that biologists "
            "can analyse behaviour without writing code. Thinly served by an ML-heavy feed, but I "
            "want the few papers that touch animal behaviour."
        ),
        "keywords": [
            "animal behavior",
            "pose estimation",
            "behavioral analysis",
            "ethology",
            "DeepLabCut",
        ],
    },
    {
        "id": "continual-learning",
        "description": (
            "I study continual and lifelong learning: catastrophic forgetting and interference, loss "
            "of plasticity, adapting to non-stationary task sequences, and how curricula, data "
            "statistics or architecture determine what a network retains and how well it transfers."
        ),
        "keywords": [
            "continual learning",
            "catastrophic forgetting",
            "lifelong learning",
            "plasticity",
            "non-stationary",
        ],
    },
]

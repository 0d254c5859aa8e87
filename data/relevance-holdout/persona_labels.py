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

# What each paper is about, in a few words: the reason a paper gets grade 0 when a persona has no
# more specific one ("off-topic: <topic>"), so every judgement names what was judged.
TOPICS: list[str] = [
    "imitation from observation via discount scheduling (Meta-World)",  # 0
    "cognitive behaviours that let LLMs self-improve under RL",  # 1
    "LLMs trained with behaviour tokens for marketing content",  # 2
    "over-refusal benchmark for multimodal LLMs",  # 3
    "multimodal LLMs recognising piglet activity",  # 4
    "adversarial training on imbalanced image data",  # 5
    "how fine-tuning-based forgetting generalises in LMs",  # 6
    "depression detection and CBT chatbot",  # 7
    "cooperation norms evolving in societies of LLM agents",  # 8
    "LLM Verilog code assistant with self-verification",  # 9
    "model editing with canonical examples (Backpack LMs)",  # 10
    "inverse scaling prize tasks",  # 11
    "trajectory reweighting for mixed offline RL datasets",  # 12
    "early warning signals of ecological regime shifts",  # 13
    "fine-tuning LLMs to self-improve over turns (RISE)",  # 14
    "open-ended RL training of generally capable agents",  # 15
    "social navigation policies for a mobile robot",  # 16
    "biologically inspired search over behaviours for navigation",  # 17
    "quality-diversity exploration in a learned behaviour space",  # 18
    "Minecraft behavioural prior from unlabelled videos (VPT)",  # 19
    "control theory of LLM prompting",  # 20
    "roadmap to reproduce o1 with RL and search",  # 21
    "LLMs trained with multi-agent RL for a social deduction game",  # 22
    "sensitivity of inverse RL to a misspecified behaviour model",  # 23
    "differentially private sequential social learning",  # 24
    "emergent abilities explained by the choice of metric",  # 25
    "LLMs for long-term action anticipation in video",  # 26
    "C. elegans circuit priors for locomotion control",  # 27
    "sorting algorithms as a model of morphogenesis",  # 28
    "zero-shot language-to-behaviour via unsupervised RL",  # 29
    "agent tuning through self-refinement (AgentRefine)",  # 30
    "activation steering of LLM agents' exploration",  # 31
    "learning dynamics in concept space and hidden capabilities",  # 32
    "dataset characteristics in offline RL",  # 33
    "unsupervised foundation policies with Hilbert representations",  # 34
    "LLMs playing finitely repeated games",  # 35
    "last-switch-dependent bandits",  # 36
    "circuits behind induction-head formation",  # 37
    "theory-of-mind application benchmark for LLMs",  # 38
    "LLM interface for animal behaviour analysis",  # 39
    "musculoskeletal dexterous manipulation prior (MyoDex)",  # 40
    "small-scale proxies for transformer training instabilities",  # 41
    "do video generation models learn physical laws",  # 42
    "conservative exploration with regret guarantees",  # 43
    "in-context scheming by frontier models",  # 44
    "return-conditioned offline RL in stochastic environments",  # 45
    "Habitat 3.0 human-robot collaboration simulator",  # 46
    "RL for time-stepping in a three-body simulation",  # 47
    "human-object interaction motion forecasting",  # 48
    "value-based RL for program synthesis",  # 49
    "arithmetic-trained LM predicts human risky choice",  # 50
    "dynamical linear bandits",  # 51
    "contrastive agent modelling in multi-agent RL",  # 52
    "alignment faking in a large language model",  # 53
    "multi-turn RL for LLM self-correction (SCoRe)",  # 54
    "theory of representation learning from video for RL",  # 55
    "continual model-based RL with hypernetworks",  # 56
    "when to restart a failing robotic assembly attempt",  # 57
    "developmental psychology experiments on LaMDA",  # 58
    "social network simulation with LLM agents",  # 59
    "catastrophic interference under power-law rehearsal",  # 60
    "temporal-logic specification of LLM agent behaviour",  # 61
    "weighted tallying bandits",  # 62
    "goal-conditioned imitation with score-based diffusion policies",  # 63
    "editing LLM parameters along a behaviour probe",  # 64
    "RL for graph feature prompt tuning",  # 65
    "targeted-behaviour adversarial attacks on RL agents",  # 66
    "real-world RL for high-speed RC car driving",  # 67
    "active exploration for system identification in manipulation",  # 68
    "robot body search against catastrophic interference",  # 69
    "inverse dynamics pretraining for multitask imitation",  # 70
    "objective mismatch in model-based RL",  # 71
    "programmable motion generation for character animation",  # 72
    "LLM agents in million-agent epidemic simulations",  # 73
    "generative agents simulating believable human behaviour",  # 74
    "word-class representations in a next-word predictor",  # 75
    "diff history prompts for LM agents in NetHack",  # 76
    "critical learning periods in deep linear networks",  # 77
    "homeostatic neural networks under concept shift",  # 78
    "LLM agents learning to reflect via MCTS self-training",  # 79
    "future-prediction models compared with primate neural data",  # 80
    "RL for extrusion die shape optimisation",  # 81
    "a VLM running RL experiments and skill curricula",  # 82
    "contextual bandits in payment processing",  # 83
    "procedure cloning: imitating an expert's computation",  # 84
    "LLM agents with provable regret (RAFA)",  # 85
    "token dynamics of Mamba state space models",  # 86
    "sample complexity of demonstration-regularised RL",  # 87
    "global vs episodic exploration bonuses",  # 88
    "zero-shot inference of Markov jump processes",  # 89
    "role-play evaluation of LLMs in text worlds",  # 90
    "imitation threshold of text-to-image models",  # 91
    "data scaling laws for robot manipulation imitation",  # 92
    "interactive imitation learning as RL with interventions",  # 93
    "visual imitation with extraneous demonstration segments",  # 94
    "benchmark of diverse human demonstrations for imitation",  # 95
    "eliciting compatible demonstrations from many humans",  # 96
    "diffusion transformer policies with mixture-of-expert denoisers",  # 97
    "teaching small LMs reasoning strategies (Orca 2)",  # 98
    "imitation from demonstrators with different dynamics",  # 99
    "BIG-bench",  # 100
    "Lipschitz rewards for off-policy adversarial imitation",  # 101
    "motion tracks for human-to-robot transfer",  # 102
    "pixel-based game-testing agent",  # 103
    "switching off DeepSeek-R1 experts to change refusals",  # 104
    "adversarial imitation learning via boosting",  # 105
    "on the measure of intelligence (ARC)",  # 106
    "in-domain dynamics pretraining for visuomotor policies",  # 107
    "learning from offline human demonstrations for manipulation",  # 108
    "data quality in imitation learning",  # 109
    "predictable task scaling via PassUntil",  # 110
    "imitating GPT-4 explanation traces (Orca)",  # 111
    "long-context in-context RL for embodied agents",  # 112
    "an RL perspective on RLHF",  # 113
    "active vision for bimanual robot imitation",  # 114
    "multi-stage cable routing by hierarchical imitation",  # 115
    "threshold-consistent loss for deep metric learning",  # 116
    "inverse RL for language model fine-tuning",  # 117
    "zero-shot affordance segmentation with CLIP",  # 118
    "why downstream capabilities scale unpredictably",  # 119
    "streaming diffusion policy for fast action generation",  # 120
    "offline RL and imitation unified by pessimism",  # 121
    "RL-learned conformal abstention for LLMs and VLMs",  # 122
    "deformable object manipulation with preference alignment",  # 123
    "compute-optimal scaling of LLM test-time compute",  # 124
    "training LLM critique ability with multi-agent feedback",  # 125
    "agent-agnostic representations from human videos for manipulation",  # 126
    "MineRL BASALT competition on learning from human feedback",  # 127
    "target-based surrogates for stochastic optimisation",  # 128
    "generation outpacing understanding in generative models",  # 129
    "weak-to-strong deception in superalignment",  # 130
    "empathetic response generation with an RL-diffusion model",  # 131
    "LLM user simulator for embodied dialogue",  # 132
    "measuring intelligence by trial-and-error failures",  # 133
    "dormant-ratio minimisation for visual RL",  # 134
    "adversarial cheap talk in RL",  # 135
    "low-cost exoskeleton for in-the-wild demonstrations",  # 136
    "imitation-learned human-like bots for a tactical shooter",  # 137
    "protecting images against diffusion-based mimicry",  # 138
    "variance in LLM evaluation benchmarks",  # 139
    "contextualised counterspeech generation",  # 140
    "RL and inference scaling for LLM reasoning (T1)",  # 141
    "human detection of AI-generated media",  # 142
    "Shapley values for LLM decisions in human-subject simulation",  # 143
    "thought cloning: imitating human thinking while acting",  # 144
]

# Grades 2 and 1, and the zeros that deserve a specific reason (near misses, keyword traps).
LABELS: dict[str, dict[int, tuple[int, str]]] = {
    "robot-learning": {
        92: (2, "how demonstration quantity and diversity drive real-robot manipulation generalisation"),
        136: (2, "exoskeleton-collected in-the-wild demonstrations for real-robot manipulation policies"),
        114: (2, "bimanual teleoperation system with active vision, imitation on real robots"),
        102: (2, "human videos plus few robot demos for real-world manipulation"),
        115: (2, "long-horizon deformable (cable) manipulation by hierarchical imitation on a real robot"),
        123: (2, "long-horizon deformable manipulation with diffusion action models, real robot"),
        108: (2, "core study of learning manipulation from offline human demonstrations (robomimic)"),
        96: (2, "demonstration compatibility across human demonstrators; real Franka manipulation"),
        120: (2, "faster diffusion policy for reactive real-world manipulation"),
        97: (2, "diffusion transformer policy architecture for multitask manipulation (CALVIN, LIBERO)"),
        126: (2, "manipulation skills from human videos via agent-agnostic representations, real robot"),
        107: (2, "self-supervised visual pretraining for visuomotor imitation, real robots"),
        94: (2, "visuomotor imitation from noisy third-person demonstrations, real robot"),
        109: (2, "what makes demonstration data good for robot imitation"),
        93: (2, "interactive imitation with human interventions on real manipulation tasks"),
        63: (2, "score-based diffusion policies learned from play data"),
        95: (2, "benchmark for imitation from diverse human demonstrations in manipulation"),
        40: (1, "dexterous manipulation prior, but a simulated musculoskeletal hand"),
        68: (1, "sim-to-real manipulation via system identification, not demonstrations"),
        70: (1, "pretraining for visuomotor imitation, simulated manipulation and analysis"),
        57: (1, "real-robot peg-in-hole assembly, decision rule rather than policy learning"),
        99: (1, "imitation from mismatched demonstrators, simulation only"),
        84: (1, "imitation algorithm with simulated manipulation among its domains"),
        134: (1, "visual RL solving simulated dexterous hand tasks, no demonstrations"),
        56: (1, "continual dynamics learning for robot pushing and door opening"),
        19: (1, "labelling unlabelled human videos with inverse dynamics; Minecraft, not robots"),
        29: (1, "policies from cross-embodied YouTube videos, simulation only"),
        0: (1, "imitation from observation without actions, simulated Meta-World"),
        118: (1, "affordance segmentation that robot manipulation could use"),
        82: (1, "VLM-built skill curricula for a simulated robotics domain"),
        46: (
            0,
            "human-robot collaboration simulator; navigation and rearrangement, no manipulation learning",
        ),
        16: (0, "mobile robot navigation, not manipulation"),
        67: (0, "driving an RC car, not manipulation"),
        34: (0, "unsupervised RL pretraining on simulated benchmarks"),
        137: (0, "imitation learning for game bots"),
        105: (0, "adversarial imitation on DeepMind Control locomotion"),
        27: (0, "simulated swimmer locomotion"),
        69: (0, "robot body design against interference, no manipulation"),
        48: (0, "human motion forecasting, no robot"),
    },
    "llm-agents": {
        79: (2, "training LLM agents to reflect and recover from errors on their own trajectories"),
        30: (2, "agent tuning that learns from self-refinement for generalisation"),
        14: (2, "multi-turn self-improvement of LLM agents as an MDP"),
        76: (2, "compact interaction histories for LM agents in long-horizon NetHack"),
        85: (2, "reasoning-and-acting LLM agent with provable regret"),
        61: (2, "declarative specification and constrained decoding of LLM agent behaviour"),
        31: (2, "steering an LLM agent's exploration through its activations"),
        9: (2, "coding agent loop: generate, simulate, self-verify and self-correct RTL"),
        74: (2, "memory, reflection and planning architecture of generative agents"),
        44: (1, "agentic evaluations where frontier agents scheme; safety angle"),
        82: (1, "VLM agent orchestrating RL experiments"),
        125: (1, "multi-agent feedback to train critique ability, not acting agents"),
        54: (1, "self-correction training, single-model rather than agentic"),
        124: (1, "test-time compute for self-improving models, single-turn"),
        21: (1, "search and learning for LLM policies, relevant to agent training"),
        8: (1, "many LLM agents interacting over generations; mostly social dynamics"),
        22: (1, "training LLM agents with RL to communicate in a game"),
        132: (1, "LLM user simulator to evaluate embodied assistants"),
        39: (1, "LLM writing analysis code with a memory mechanism; applied"),
        49: (1, "RL for code generation, not multi-step agents"),
        144: (1, "agents that think in language while acting, not LLM-based"),
        59: (0, "social network simulation; says little about building agents"),
        73: (0, "agent-based epidemic modelling rather than agent design"),
        35: (0, "behavioural game theory of LLMs"),
        90: (0, "role-play evaluation, not task-solving agents"),
        15: (0, "RL agents in 3D worlds, no language models"),
        141: (0, "RL for math reasoning, not agents"),
        112: (0, "in-context RL for embodied navigation, no language model"),
        19: (0, "behavioural prior for Minecraft from videos, no language model"),
    },
    "llm-reasoning": {
        1: (2, "why some base models improve under RL on verifiable tasks"),
        54: (2, "RL training of LLM self-correction on MATH"),
        124: (2, "compute-optimal test-time scaling with verifiers"),
        21: (2, "roadmap to o1-style reasoning via RL and search"),
        141: (2, "scaling RL and inference for math reasoning (T1)"),
        14: (2, "training LLMs to correct themselves over turns on math"),
        98: (2, "teaching small models reasoning strategies"),
        111: (2, "distilling step-by-step reasoning traces into a smaller model"),
        9: (1, "self-verification and self-correction, but for hardware code"),
        79: (1, "MCTS-built self-correction data, for agents rather than math"),
        30: (1, "self-refinement for agent tasks"),
        125: (1, "critique ability trained with RL, related to verification"),
        49: (1, "RL on unit-test-verifiable code rewards"),
        113: (1, "conceptual view of RL for LLMs"),
        85: (1, "reasoning as planning for LLM agents"),
        106: (1, "ARC as a test of abstract reasoning, not LLM training"),
        84: (0, "'chain of thought' imitation for non-language policies"),
        144: (0, "thinking in language for RL agents, not LLM reasoning"),
        104: (0, "DeepSeek-R1, but about refusal behaviour"),
        38: (0, "theory-of-mind benchmark, not reasoning training"),
        117: (0, "LM fine-tuning via IRL, no reasoning angle"),
        100: (0, "broad benchmark; evaluation, not reasoning training"),
        26: (0, "chain-of-thought prompting for video action anticipation"),
    },
    "ai-safety": {
        44: (2, "frontier models scheme and deceive in agentic evaluations"),
        53: (2, "model fakes alignment during training"),
        130: (2, "strong models deceiving weak supervisors"),
        3: (2, "over-refusal of benign multimodal queries caused by safety training"),
        104: (2, "refusal behaviour localised in experts and switched off"),
        64: (2, "editing parameters for detoxification and jailbreak resistance"),
        23: (2, "reward inference breaks under a misspecified model of human behaviour"),
        122: (1, "abstention under uncertainty for safety-critical LLM use"),
        66: (1, "adversarial attacks steering RL agents to targeted behaviours"),
        135: (1, "minimal adversary controlling an RL agent through messages"),
        127: (1, "learning from human feedback for hard-to-specify tasks"),
        6: (1, "unlearning is shallow: removed skills persist in representations"),
        11: (1, "larger models can get worse through training objective flaws"),
        113: (1, "conceptual take on RLHF"),
        144: (1, "observable thoughts claimed to help prevent unsafe actions"),
        20: (1, "short prompts can force arbitrary outputs"),
        61: (1, "formal guardrails on LLM agent behaviour"),
        5: (0, "adversarial robustness of image classifiers, not model behaviour"),
        43: (0, "safe exploration in tabular RL, not frontier-model safety"),
        10: (0, "model editing as a capability tool"),
        138: (0, "protecting images from misuse, not model alignment"),
        31: (0, "steering agent exploration, no safety angle"),
        22: (0, "detecting an impostor in a game, not model deception"),
    },
    "llm-evaluation": {
        25: (2, "emergent abilities as an artefact of metric choice"),
        139: (2, "quantifying variance in evaluation benchmarks"),
        119: (2, "why downstream capabilities are hard to predict from scale"),
        11: (2, "inverse scaling tasks and unreliable scaling trends"),
        110: (2, "predictable task scaling with a higher-resolution metric"),
        100: (2, "BIG-bench: benchmark design, human raters, scaling"),
        106: (2, "what an intelligence test should measure (ARC)"),
        133: (2, "a framework for evaluating intelligence by failure counts"),
        58: (2, "developmental psychology experiments comparing LLMs and children"),
        129: (2, "generation vs understanding compared with humans"),
        38: (1, "benchmark exposing a gap in theory-of-mind application"),
        32: (1, "hidden capabilities that prompting fails to elicit"),
        41: (1, "small-scale proxies for large-scale behaviour, on training"),
        42: (1, "evaluation of generalisation with scale, for video models"),
        90: (1, "evaluation method for role-play"),
        3: (1, "benchmark for over-refusal"),
        50: (1, "LLMs compared with human decision data"),
        44: (1, "evaluation suite for scheming"),
        140: (1, "automatic metrics correlate poorly with human judgement"),
        35: (1, "behavioural game theory as an evaluation of LLMs"),
        143: (1, "prompt-token sensitivity undermining LLM-as-subject results"),
        98: (0, "reports a new model's benchmark scores"),
        111: (0, "new model; evaluation only as a critique of earlier work"),
        124: (0, "test-time compute method, not evaluation"),
        95: (0, "robotics benchmark"),
        4: (0, "applied evaluation of MLLMs in livestock video"),
        116: (0, "variance metric for image retrieval"),
    },
    "interpretability": {
        37: (2, "mechanistic study of induction-head circuit formation"),
        31: (2, "activation steering of an LLM agent"),
        64: (2, "probe-guided parameter editing of LLM behaviour"),
        10: (2, "model editing with canonical examples and sense vectors"),
        104: (2, "localising refusal in specific experts and intervening on them"),
        6: (2, "targeted unlearning checked with linear probes"),
        32: (2, "learning dynamics explaining when hidden capabilities emerge"),
        75: (1, "hidden-layer representations cluster by word class; small network, linguistics framing"),
        143: (1, "attribution of LLM outputs to prompt components"),
        20: (1, "controllability of self-attention; steering by prompts"),
        86: (1, "theory of token dynamics inside Mamba"),
        77: (1, "analytic learning dynamics in deep linear networks"),
        25: (1, "explains apparent emergence by metrics, without looking inside"),
        27: (0, "'circuits' are biological locomotion circuits"),
        41: (0, "training stability, not understanding internals"),
        144: (0, "interpretability only as a by-product of thinking in language"),
        134: (0, "neuron dormancy used to drive RL exploration"),
        44: (0, "behavioural evaluation of scheming"),
        80: (0, "models compared with neural data, neuroscience"),
    },
    "rl-theory": {
        51: (2, "new linear bandit setting with regret lower and upper bounds"),
        121: (2, "minimax rates bridging offline RL and imitation via pessimism"),
        43: (2, "conservative exploration with near-optimal regret"),
        36: (2, "approximation and regret for last-switch-dependent bandits"),
        62: (2, "policy regret bounds for weighted tallying bandits"),
        87: (2, "sample complexity gains from demonstrations; RLHF theory"),
        55: (2, "sample complexity upper and lower bounds for video pretraining"),
        85: (1, "regret bound for an LLM agent framework"),
        83: (1, "contextual bandits in production, empirical"),
        24: (1, "sequential learning under differential privacy, asymptotic rates"),
        23: (1, "theory of IRL under misspecification"),
        93: (1, "sample complexity bound for intervention-based RL"),
        101: (1, "theoretical guarantees for adversarial imitation"),
        88: (1, "conceptual framework for exploration bonuses, mostly empirical"),
        12: (1, "offline RL reweighting with analysis in deterministic MDPs"),
        33: (1, "empirical study of dataset coverage in offline RL"),
        109: (1, "distribution-shift view of data quality in imitation"),
        45: (1, "consistency guarantee for return-conditioned offline RL"),
        128: (0, "optimisation convergence, not decision making"),
        57: (0, "applied decision rule for robot assembly"),
        71: (0, "empirical model-based RL"),
        31: (0, "exploration of LLM agents, empirical"),
        20: (0, "proofs about LLM prompting, not RL"),
    },
    "rl-representations": {
        34: (2, "unsupervised pretraining of zero-shot foundation policies"),
        55: (2, "representation learning from video for RL"),
        134: (2, "sample-efficient visual RL via dormant neurons (plasticity)"),
        29: (2, "zero-shot behaviours from an unsupervised RL agent"),
        19: (2, "behavioural prior learned from unlabelled videos"),
        71: (2, "objective mismatch in model-based RL"),
        56: (2, "continual model-based RL"),
        70: (2, "inverse-dynamics pretraining of representations for control"),
        107: (2, "dynamics-model pretraining of visual representations for control"),
        42: (2, "video generation models as world models"),
        18: (1, "learned behaviour space for exploration"),
        88: (1, "exploration bonuses in pixel-based contextual MDPs"),
        15: (1, "open-ended training of generally capable RL agents"),
        112: (1, "in-context RL for embodied agents"),
        67: (1, "pretrained representations make real-world RL sample-efficient"),
        80: (1, "latent future prediction with video foundation models"),
        45: (1, "latent future representations in offline RL"),
        126: (1, "visual representations from human videos for manipulation"),
        0: (1, "learning from observations without actions"),
        68: (1, "model-based control via simulator identification"),
        69: (1, "catastrophic interference across environments in robot RL"),
        60: (1, "catastrophic interference, supervised rather than RL"),
        77: (1, "critical periods: early training harming later learning"),
        52: (1, "contrastive representations of other agents in MARL"),
        40: (1, "multi-task behavioural prior for dexterous control"),
        78: (0, "concept shift in supervised classifiers"),
        102: (0, "manipulation system using human video, imitation"),
        76: (0, "prompting LM agents"),
        82: (0, "VLM orchestration of RL experiments"),
    },
    "llm-social-sim": {
        74: (2, "generative agents simulating believable human behaviour"),
        35: (2, "LLMs in repeated games: behavioural game theory"),
        8: (2, "cooperation norms evolving among LLM agent societies"),
        59: (2, "LLM-agent social network simulation"),
        73: (2, "LLM agents in large agent-based models"),
        22: (2, "LLMs in a social deduction game"),
        90: (2, "role-play and character simulation with LLMs"),
        50: (2, "LLM choices matched to human risky and intertemporal choice"),
        143: (2, "validity of LLMs as stand-ins for human subjects"),
        38: (2, "theory of mind in LLMs"),
        132: (1, "LLM simulating user behaviour in dialogues"),
        58: (1, "LLM responses compared with children's"),
        2: (1, "simulating audience behaviour (shares, likes) with LLMs"),
        24: (1, "social learning theory, no LLMs"),
        16: (0, "'social' navigation of a robot among people"),
        137: (0, "human-like game bots, not social simulation"),
        46: (0, "human-robot collaboration simulator"),
        52: (0, "agent modelling in MARL, no LLMs"),
        125: (0, "multi-agent feedback as a training trick"),
        1: (0, "'cognitive behaviours' of reasoning models"),
    },
    "diffusion-models": {
        91: (2, "imitation threshold of text-to-image models: copyright and style"),
        120: (2, "faster diffusion policy sampling"),
        42: (2, "diffusion video generation models as world simulators"),
        138: (2, "protecting images against latent diffusion mimicry"),
        63: (2, "score-based diffusion policies with few-step sampling"),
        97: (2, "diffusion transformer policies with expert denoisers"),
        142: (2, "can people tell generated media from real"),
        131: (1, "diffusion used in empathetic text generation"),
        123: (1, "diffusion models for robot action distributions"),
        129: (1, "generative image and language models: generation vs understanding"),
        72: (1, "pretrained motion generation model steered by constraints"),
        29: (1, "video-language generation used to imagine tasks"),
        107: (0, "diffusion policy only as one downstream policy class"),
        118: (0, "CLIP for affordances, no generation"),
    },
}


def _judgements() -> dict[str, dict]:
    """Likes and labels per persona, as make_personas.py expects them."""
    out = {}
    for persona, labels in LABELS.items():
        full = {pos: labels.get(pos, (0, f"{OFF_TOPIC}: {topic}")) for pos, topic in enumerate(TOPICS)}
        out[persona] = {"likes": LIKES[persona], "labels": full}
    return out


JUDGEMENTS: dict[str, dict] = _judgements()

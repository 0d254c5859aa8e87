"""Faults an operator editing the `templates:` folder can run into: what `check` says, what a
digest run does with a template that is broken at send time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_slack
from helpers import SOURCES, FeedPaper, digestbot, ledger, write_feed
from test_ops import own_templates  # noqa: F401  (a fixture)
from test_slack import slack_sub

from digestbot.digest import make_renderer
from digestbot.render import Renderer, sample_digest

slack = test_slack.slack  # the fixture: a Slack Web API stand-in


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "mytemplates"
    path.mkdir()
    return path


# --- Jinja's own ways of including an optional template --------------------------------------


def test_an_include_that_may_be_missing_works(folder):
    # `ignore missing` and a list of candidates are how Jinja includes an optional part: they
    # rely on TemplateNotFound, which must not be turned into "cannot read it".
    (folder / "digest.txt").write_text(
        "A{% include 'optional.txt' ignore missing %}B{% include ['nope.txt', 'part.txt'] %}\n",
        encoding="utf-8",
    )
    (folder / "part.txt").write_text("-part-", encoding="utf-8")
    renderer = Renderer(folder)
    assert renderer.problems() == []
    assert renderer.email(sample_digest()).text == "AB-part-"  # trim_blocks eats the newline


def test_an_include_that_is_missing_is_reported_where_it_is_included(folder):
    (folder / "digest.txt").write_text("first line\n{% include 'gone.txt' %}\n", encoding="utf-8")
    [problem] = Renderer(folder).problems()
    assert re.fullmatch(r".*digest\.txt:2: template: .*gone\.txt.*", problem), problem


def test_a_render_error_in_an_included_template_names_that_file(folder):
    (folder / "digest.html").write_text("<p>\n{% include 'paper.html' %}\n</p>\n", encoding="utf-8")
    (folder / "paper.html").write_text("ok\n{{ 1 // 0 }}\n", encoding="utf-8")
    [problem] = Renderer(folder).problems()
    assert problem == f"{folder / 'paper.html'}:2: template: integer division or modulo by zero"


# --- the subject ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "   \n\n", "{{ '' }}\n", "{% if false %}x{% endif %}\u200b\n"])
def test_a_subject_template_that_renders_empty_is_a_problem(folder, body):
    (folder / "digest.subject.txt").write_text(body, encoding="utf-8")
    [problem] = Renderer(folder).problems()
    assert problem.startswith(f"{folder / 'digest.subject.txt'}:1: template: ")
    assert "empty subject" in problem


def subject_of(folder: Path, template: str) -> str:
    """The subject of the sample digest with `template` as digest.subject.txt (which checks)."""
    (folder / "digest.subject.txt").write_text(template, encoding="utf-8")
    renderer = Renderer(folder)
    assert renderer.problems() == []
    return renderer.email(sample_digest()).subject


def test_a_multi_line_subject_cannot_inject_a_header(folder):
    subject = subject_of(folder, "Papers\r\nBcc: evil@example.org\n{{ total }}\n")
    assert subject == "Papers Bcc: evil@example.org 3"


# --- Slack Block Kit --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            '{"text": "x", "blocks": [{"type": "sectoin", "text": {"type": "mrkdwn", "text": "a"}}]}',
            "sectoin",
        ),
        ('{"text": "x", "blocks": [{"text": {"type": "mrkdwn", "text": "a"}}]}', "type"),
        ('{"text": "x", "blocks": [{"type": "section", "text": "plain string"}]}', "text object"),
        (
            '{"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "a"}}]}',
            "plain_text",
        ),
        ('{"text": "", "blocks": []}', "no text"),
        ('{"text": "x", "blocks": ["a"]}', "block 1"),
        # what slack-sdk's Block Kit models know: required fields and Slack's limits
        ('{"text": "x", "blocks": [{"type": "image", "image_url": "https://x.org/a.png"}]}', "alt_text"),
        (
            '{"text": "x", "blocks": [{"type": "context", "elements": ['
            + ", ".join(['{"type": "mrkdwn", "text": "a"}'] * 11)
            + "]}]}",
            "10 elements",
        ),
        (
            '{"text": "x", "blocks": [{"type": "section", "block_id": "' + "b" * 300 + '",'
            ' "text": {"type": "mrkdwn", "text": "a"}}]}',
            "block_id",
        ),
        ('{"text": "x", "blocks": [{"type": "actions", "elements": [{"type": "button"}]}]}', "text"),
        ('{"text": "x", "blocks": [{"type": "context", "elements": "a"}]}', "list"),
        (
            '{"text": "x", "blocks": [{"type": "section", "text": {"type": "markdown", "text": "a"}}]}',
            "mrkdwn",
        ),
        (
            '{"text": "x", "blocks": [{"type": "context", "elements": [{"type": "mrkdown", "text": "a"}]}]}',
            "'mrkdown'",
        ),
        (
            '{"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a"},'
            ' "accessory": {"type": "buton"}}]}',
            "'buton'",
        ),
    ],
)
def test_a_slack_template_that_renders_invalid_block_kit_is_a_problem(folder, body, says):
    (folder / "digest.slack.json").write_text(body, encoding="utf-8")
    problems = make_renderer(folder).problems()
    assert problems, "Slack would refuse this message (invalid_blocks / no_text)"
    assert all(p.startswith(f"{folder / 'digest.slack.json'}:") for p in problems), problems
    assert says in problems[0], problems


def test_the_default_slack_template_is_valid_block_kit():
    assert make_renderer(None).problems() == []


def test_block_types_slack_has_and_digestbot_does_not_use_pass(folder):
    # The types come from slack-sdk's models, not a list written here: a newer block is not refused.
    body = (
        '{"text": "x", "blocks": [{"type": "markdown", "text": "**a**"}, {"type": "divider"},'
        ' {"type": "call", "call_id": "R1"}]}'
    )
    (folder / "digest.slack.json").write_text(body, encoding="utf-8")
    assert make_renderer(folder).problems() == []


# --- filters in a branch the sample digest does not take ----------------------------------------


def test_an_unknown_filter_in_a_branch_not_taken_is_reported(folder):
    # Jinja reports an unknown filter inside an `if` only when the branch runs: the sample
    # digest's papers all have upvotes, so check would pass and arXiv papers would fail.
    (folder / "digest.txt").write_text(
        "{% for p in papers %}\n{% if p.upvotes is none %}\n{{ p.title|titel }}\n{% endif %}\n{% endfor %}\n",
        encoding="utf-8",
    )
    [problem] = Renderer(folder).problems()
    assert problem == f"{folder / 'digest.txt'}:3: template: No filter named 'titel'."


def test_an_unknown_test_in_a_branch_not_taken_is_reported(folder):
    (folder / "digest.txt").write_text("{% if false %}\n{% if total is evne %}x{% endif %}\n{% endif %}\n")
    [problem] = Renderer(folder).problems()
    assert problem == f"{folder / 'digest.txt'}:2: template: No test named 'evne'."


def test_a_filter_guarded_by_is_filter_is_left_alone(folder):
    (folder / "digest.txt").write_text("{% if 'markdown' is filter %}{{ why|markdown }}{% endif %}ok\n")
    assert Renderer(folder).problems() == []


# --- a template edited while the worker runs -------------------------------------------------


def test_an_included_template_broken_while_the_worker_runs_holds_digests_back(folder):
    (folder / "digest.txt").write_text("{% include 'part.txt' %}\n", encoding="utf-8")
    (folder / "part.txt").write_text("fine\n", encoding="utf-8")
    renderer = Renderer(folder)
    assert renderer.problems() == []
    (folder / "part.txt").write_text("{{ nope }}\n", encoding="utf-8")
    assert renderer.problems() == [f"{folder / 'part.txt'}:1: template: 'nope' is undefined"]


def test_a_template_folder_that_lacks_a_template_then_gets_a_broken_one_is_rechecked(folder):
    renderer = Renderer(folder)
    assert renderer.problems() == []
    (folder / "digest.html").write_text("{% if %}\n", encoding="utf-8")
    [problem] = renderer.problems()
    assert problem.startswith(f"{folder / 'digest.html'}:1: template: ")


# --- end to end: check and send ---------------------------------------------------------------


@pytest.mark.usefixtures("own_templates")
def test_check_reports_an_empty_subject_and_send_records_nothing(workdir):
    own = workdir.path / "mytemplates"
    (own / "digest.subject.txt").write_text("{# nothing #}\n", encoding="utf-8")
    result = digestbot(workdir, "check", expect=2)
    assert "digest.subject.txt:1: template: " in result.output and "empty subject" in result.output
    assert "Traceback" not in result.output
    digestbot(workdir, "send", expect=2)
    assert ledger(workdir.db) == []
    assert not workdir.outbox.exists() or not list(workdir.outbox.iterdir())


@pytest.mark.usefixtures("own_templates")
def test_a_broken_template_added_while_the_worker_runs_holds_digests_back(workdir, caplog):
    own = workdir.path / "mytemplates"
    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker
    from digestbot.store import Store

    with Store(workdir.db) as store:
        worker = Worker(load_config(workdir.config), store, Env.from_environ())
        assert worker.runner.renderer.problems() == []  # an earlier dispatch: the defaults are cached
        (own / "digest.html").write_text("{{ papers|lenght }}\n", encoding="utf-8")
        with caplog.at_level("ERROR"):
            assert worker.dispatch() == []
        assert store.digests() == []
    assert any("digest.html:1: template: No filter named 'lenght'" in r.getMessage() for r in caplog.records)
    assert not workdir.outbox.exists() or not list(workdir.outbox.iterdir())


def test_a_folder_named_like_a_template_is_a_problem(folder):
    (folder / "digest.html").mkdir()
    assert Renderer(folder).problems() == [f"{folder / 'digest.html'}:1: template: not a file"]


def test_an_include_in_a_subfolder_edited_while_the_worker_runs_is_rechecked(folder):
    (folder / "parts").mkdir()
    (folder / "digest.txt").write_text("{% include 'parts/p.txt' %}\n", encoding="utf-8")
    (folder / "parts" / "p.txt").write_text("fine\n", encoding="utf-8")
    renderer = Renderer(folder)
    assert renderer.problems() == []
    (folder / "parts" / "p.txt").write_text("{% endif %}\n", encoding="utf-8")
    [problem] = renderer.problems()
    assert problem.startswith(f"{folder / 'parts' / 'p.txt'}:1: template: ")


# --- a Slack template whose output is not JSON --------------------------------------------------
# Fault: the problem named line 1 of digest.slack.json whatever line was wrong, and the line it
# quoted ("line 9 column 5") was one of the rendered output, which loops and includes make
# another than any in the file. It names the template line that wrote the text where JSON
# broke (in an included file, that file), and shows that text.

BLOCKS_LOOP = (
    '{\n  "text": "x",\n  "blocks": [\n    {"type": "divider"},\n'
    '{% for p in papers %}\n    {"type": "section", "text": {"type": "mrkdwn", "text": {{ p.title_mrkdwn | tojson }}}}\n'
    "{% endfor %}\n"
)


@pytest.mark.parametrize(
    ("files", "at", "says"),
    [
        (  # no comma between the papers' blocks: line 6, on the second paper's
            {"digest.slack.json": BLOCKS_LOOP + "  ]\n}\n"},
            ("digest.slack.json", 6),
            "Expecting ',' delimiter",
        ),
        (  # a comma after the last block
            {"digest.slack.json": BLOCKS_LOOP.replace("}}}}\n", "}}}},\n") + "  ]\n}\n"},
            ("digest.slack.json", 8),
            "a comma after the last item",
        ),
        (  # the mistake is in what an include brings
            {
                "digest.slack.json": '{"text": "x", "blocks": [\n{% include "footer.json" %}\n]}\n',
                "footer.json": '{"type": "divider"},\n{"type": "context" "elements": []}\n',
            },
            ("footer.json", 2),
            "Expecting ',' delimiter",
        ),
    ],
    ids=["missing comma", "trailing comma", "in an include"],
)
def test_a_slack_template_that_renders_no_json_names_the_line_that_wrote_the_fault(folder, files, at, says):
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    problems = make_renderer(folder).problems()
    file, line = at
    assert problems and all(p.startswith(f"{folder / file}:{line}: template: ") for p in problems), problems
    assert "did not render to JSON" in problems[0] and says in problems[0], problems


# --- a template that includes or extends itself -------------------------------------------------
# Fault: `{% extends "digest.html" %}` in the folder's digest.html (to build on the default, as
# Jinja users do) was "maximum recursion depth exceeded in comparison": a name is the folder's
# file first, so the template extended itself. The problem says so.


@pytest.mark.parametrize(
    ("files", "at"),
    [
        (
            {"digest.html": '{# mine #}\n{% extends "digest.html" %}\n{% block x %}hi{% endblock %}\n'},
            ("digest.html:2",),
        ),
        (
            {"digest.txt": "a\n{% include 'part.txt' %}\n", "part.txt": "b\n\n{% include 'digest.txt' %}\n"},
            ("digest.txt:2", "part.txt:3"),  # where the recursion ran out: either is in the loop
        ),
    ],
    ids=["extends its own name", "includes itself through another file"],
)
def test_a_template_that_includes_or_extends_itself_says_so(folder, files, at):
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    [problem] = Renderer(folder).problems()
    assert problem.startswith(tuple(f"{folder}/{where}: template: " for where in at)), problem
    assert "itself" in problem and "the default" in problem and "recursion depth" not in problem, problem


# --- Slack's limits inside a block: a section's button and fields --------------------------------
# Fault: a section's accessory (a button labelled with the paper's title) and its fields were
# not trimmed to Slack's limits (75 characters a button, 2,000 a field) as the blocks' own texts
# and the buttons of an actions block are, and the check read only each block's own fields, so
# what Slack refuses as invalid_blocks there passed `check` and failed every digest with a long
# title. Both are trimmed now, and the check reads every element inside a block too.

ACCESSORY = (
    '{"text": "x", "blocks": [\n{% for p in papers %}\n'
    '{"type": "section", "fields": [{"type": "mrkdwn", "text": {{ (p.title_mrkdwn * 15) | tojson }}}],'
    ' "accessory": {"type": "button", "action_id": "open-{{ loop.index }}", "url": {{ p.link | tojson }},'
    ' "text": {"type": "plain_text", "text": {{ p.title | tojson }}}}}{{ "," if not loop.last }}\n'
    "{% endfor %}\n]}\n"
)
LONG_TITLE = "Imitation learning " + "with a very long title " * 6


def test_a_sections_button_and_fields_are_trimmed_to_slacks_limits(workdir, folder, slack):
    (folder / "digest.slack.json").write_text(ACCESSORY, encoding="utf-8")
    write_feed(workdir.path / "feed.xml", [FeedPaper("2501.00001", LONG_TITLE, "Imitation learning.")])
    workdir.write_config(
        SOURCES, slack_sub("ml", "#ml", "imitation learning"), extra_yaml=f"templates: {folder}"
    )

    digestbot(workdir, "check")
    digestbot(workdir, "run", "--once")

    [post] = slack.posts
    [section] = post.body["blocks"]
    label = section["accessory"]["text"]["text"]
    assert len(label) <= 75 and label.endswith("…") and LONG_TITLE.startswith(label[:-1].rstrip())
    [field] = section["fields"]
    assert len(field["text"]) <= 2000 and field["text"].endswith("…")
    assert ledger(workdir.db)[0].status == "sent"


def test_what_slack_refuses_inside_a_block_is_a_problem(folder):
    (folder / "digest.slack.json").write_text(
        ACCESSORY.replace('"open-{{ loop.index }}"', '"{{ "x" * 300 }}"'), encoding="utf-8"
    )
    problems = make_renderer(folder).problems()
    assert problems and all(p.startswith(f"{folder / 'digest.slack.json'}:") for p in problems), problems
    assert "block 1 (section): action_id attribute cannot exceed 255 characters" in problems[0], problems


# --- a stylesheet linked from the HTML template ----------------------------------------------------
# Fault: `<link rel="stylesheet" href="digest.css">` in digest.html passed check, and every email
# went out without those styles, the tag dropped: CSS is inlined from <style> blocks only, and
# mail clients load no stylesheets. The problem says where, and what works instead.


def test_a_linked_stylesheet_is_a_problem_that_says_what_works(folder):
    (folder / "digest.css").write_text(".paper { border: 3px solid #b91c1c; }\n", encoding="utf-8")
    (folder / "digest.html").write_text(
        '<html>\n<head>\n  <link rel="stylesheet" href="digest.css">\n</head>\n'
        '<body>{% for p in papers %}<p class="paper">{{ p.title }}</p>{% endfor %}</body>\n</html>\n',
        encoding="utf-8",
    )
    [problem] = Renderer(folder).problems()
    assert problem.startswith(f"{folder / 'digest.html'}:3: template: "), problem
    assert "stylesheet" in problem and "{% include" in problem, problem

    # what it says works: the file's rules, inlined on the elements
    text = (folder / "digest.html").read_text(encoding="utf-8")
    (folder / "digest.html").write_text(
        text.replace(
            '<link rel="stylesheet" href="digest.css">', '<style>{% include "digest.css" %}</style>'
        ),
        encoding="utf-8",
    )
    renderer = Renderer(folder)
    assert renderer.problems() == []
    assert '<p class="paper" style="border: 3px solid #b91c1c;">' in renderer.email(sample_digest()).html


def test_a_long_subject_is_cut_between_words_and_says_so(folder):
    # A subject template listing every title was cut at its 200th character, mid-word and with
    # nothing to say that more followed ("… A sample paper on imitation learning A sample paper ").
    title = sample_digest().matches[0].paper.title
    subject = subject_of(folder, "{% for p in papers %}{{ p.title }}; {% endfor %}\n")
    assert subject == f"{title}; {title};"  # short: as it is
    subject = subject_of(folder, "{% for p in papers %}{{ (p.title ~ ' ') * 6 }}; {% endfor %}\n")
    assert len(subject) <= 202 and subject.endswith(" …"), subject
    assert set(subject[:-2].split()) <= {*title.split(), ";"}, subject  # no word cut short

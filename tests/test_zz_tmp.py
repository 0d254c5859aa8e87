import json
from helpers import digestbot
from test_likes import sources, sub, ROBOT_LIKES, PAPERS
from digestbot.store import Store

def test_x(workdir):
    workdir.write_config(sources(workdir), sub("carol", like=ROBOT_LIKES, categories=["cs.CV"], exclude=["video*"], max_papers=50, relevance_floor=0.0))
    digestbot(workdir, "fetch")
    data = json.loads(digestbot(workdir, "preview", "carol", "--format", "json").output)
    with Store(workdir.db) as store:
        for p in data["papers"]:
            paper = store.paper(p["key"])
            print(paper.categories, p["title"][:60], p["why"])
            assert "cs.CV" in paper.categories
            assert "video" not in (paper.title + paper.abstract).lower()
    print(data["total"], len(data["papers"]))

"""The core contract through the CLI on real temporary git repositories (SPEC 2.1–2.4, 3)."""

from __future__ import annotations

import json

import pytest
from conftest import Repo


def new_iss(repo: Repo, title: str = "【20170101】XX局点XX设备发生XX问题", *extra: str, as_: str = "alice") -> str:
    res = repo.run("new", "issue_track", "--title", title, *extra, as_=as_)
    assert res.code == 0, res.err
    return res.out.strip()


def ready_for_review(repo: Repo, tid: str) -> None:
    assert repo.run("tick", tid, "1", "2", as_="alice").code == 0


def ticket_file(repo: Repo, tid: str) -> str:
    files = list((repo.root / "tickets").glob(f"{tid}*.md"))
    assert len(files) == 1
    return files[0].relative_to(repo.root).as_posix()


# ------------------------------------------------------------------ new


def test_new_creates_ticket_in_initial_state_with_history_checklist_and_commit(repo: Repo) -> None:
    tid = new_iss(repo, "【20170101】XX局点XX设备发生XX问题", "--role", "维护代表=fan", "--priority", "P2")
    assert tid == "ISS-1"
    rel = ticket_file(repo, tid)
    assert rel == "tickets/ISS-1.md"  # Chinese title: no slug
    text = repo.read(rel)
    assert text.startswith("---\nid: ISS-1\ntype: issue_track\ntitle: 【20170101】XX局点XX设备发生XX问题\nstate: 维护人员处理\n")
    assert "priority: P2\n" in text
    assert "reporter: alice\n" in text
    assert "roles: {维护代表: fan}\n" in text
    assert "issue_level: 一般问题\n" in text  # required field with default
    assert "  - {at: 2026-11-21T10:00:00+08:00, by: alice, action: create, to: 维护人员处理}\n" in text
    assert "【问题现象】: 【20170101】XX局点XX设备发生XX问题" in text  # template rendered
    assert "## Checklist: 维护人员处理\n- [ ] 记录时间、局点、设备型号\n" in text
    log = repo.git("log", "-1", "--format=%B")
    assert log.startswith("ISS-1 create: ")
    assert "Sopflow-Ticket: ISS-1\nSopflow-Action: create" in log
    assert repo.git("show", "--name-only", "--format=", "HEAD").split() == [rel]


def test_new_ids_increase_and_slug_for_ascii_titles(repo: Repo) -> None:
    assert new_iss(repo, "First problem") == "ISS-1"
    assert new_iss(repo, "Second: disk full!") == "ISS-2"
    assert (repo.root / "tickets/ISS-1-first-problem.md").is_file()
    assert (repo.root / "tickets/ISS-2-second-disk-full.md").is_file()


def test_new_json_output_and_unknown_type(repo: Repo) -> None:
    res = repo.run("new", "issue_track", "--title", "x", "--format", "json", as_="alice")
    data = json.loads(res.out)
    assert data["id"] == "ISS-1" and data["path"] == "tickets/ISS-1-x.md" and "body" in data
    bad = repo.run("new", "nope", "--title", "x", as_="alice")
    assert bad.code == 1 and "unknown ticket type 'nope'" in bad.err and "Traceback" not in bad.err


def test_new_refuses_bad_values_and_writes_nothing(repo: Repo) -> None:
    before = repo.snapshot()
    head = repo.git("rev-parse", "HEAD")
    for args in (["--set", "effort=-1"], ["--set", "customer_type=火星"], ["--set", "due=2026-13-01"],
                 ["--set", "nosuch=1"], ["--set", "state=关闭"], ["--role", "维护代表=bob"],
                 ["--role", "不存在=fan"], ["--assignee", "mallory"], ["--set", "code=toolong"]):
        res = repo.run("new", "issue_track", "--title", "x", *args, as_="alice")
        assert res.code == 1, (args, res.out)
        assert res.err.count("\n") == 1 and res.err.startswith("sopflow: "), res.err
    assert repo.snapshot() == before
    assert repo.git("rev-parse", "HEAD") == head


def test_field_value_parsing(repo: Repo) -> None:
    tid = new_iss(repo, "x", "--set", "checked=yes", "--set", "tags=a,c", "--set", "effort=3",
                  "--set", "due=2026-12-01", "--set", "owner=bob")
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["checked"] is True and data["tags"] == ["a", "c"] and data["effort"] == 3
    assert data["due"] == "2026-12-01" and data["owner"] == "bob"
    bad = repo.run("set", tid, "owner=mallory", as_="alice")
    assert bad.code == 1 and "mallory" in bad.err


# ------------------------------------------------------------------ do


def test_do_refusal_names_everything_missing_and_changes_nothing(repo: Repo) -> None:
    tid = new_iss(repo)
    before = repo.snapshot()
    head = repo.git("rev-parse", "HEAD")
    res = repo.run("do", tid, "提交审核", as_="alice")
    assert res.code == 1
    err = res.err
    assert "customer_type" in err and "维护代表" in err and "unticked" in err and "记录时间、局点、设备型号" in err
    assert "note" in err
    assert err.count("\n") == 1
    assert repo.snapshot() == before and repo.git("rev-parse", "HEAD") == head


def test_do_checks_by_role_before_the_action(repo: Repo) -> None:
    tid = new_iss(repo, "x", "--role", "维护代表=fan", "--set", "customer_type=金融")
    ready_for_review(repo, tid)
    res = repo.run("do", tid, "提交审核", "--note", "n", as_="bob")
    assert res.code == 1 and "bob may not fire 提交审核" in res.err and "维护处理人" in res.err
    res = repo.run("do", tid, "提交审核", "--note", "背景 进展 下一步", as_="alice")
    assert res.code == 0, res.err
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["state"] == "维护代表审核" and data["assignee"] == "fan"
    last = data["history"][-1]
    assert last["action"] == "提交审核" and last["from"] == "维护人员处理" and last["to"] == "维护代表审核"
    assert last["by"] == "alice" and last["note"] == "背景 进展 下一步"
    # the role bound on the ticket decides: alice holds 维护代表? no — fan is bound, so only fan may review
    res = repo.run("do", tid, "转SE分析改进", as_="alice")
    assert res.code == 1 and "维护代表 is fan" in res.err
    assert repo.run("do", tid, "转SE分析改进", as_="fan").code == 0


def test_do_set_and_role_in_the_same_action(repo: Repo) -> None:
    tid = new_iss(repo)
    ready_for_review(repo, tid)
    res = repo.run("do", tid, "提交审核", "--set", "customer_type=电网", "--role", "维护代表=fan", "--note", "n",
                   as_="alice")
    assert res.code == 0, res.err
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["customer_type"] == "电网" and data["roles"] == {"维护代表": "fan"}
    assert data["history"][-1]["set"] == {"customer_type": "电网"}


def test_unknown_trigger_and_wrong_state(repo: Repo) -> None:
    tid = new_iss(repo)
    res = repo.run("do", tid, "飞", as_="alice")
    assert res.code == 1 and "unknown trigger '飞'" in res.err and "提交审核" in res.err
    res = repo.run("do", tid, "转SE分析改进", as_="fan")
    assert res.code == 1 and "cannot be fired from state 维护人员处理" in res.err


def test_assign_to_picks_the_holder_with_fewest_open_tickets(repo: Repo) -> None:
    # 改进提取SE is held by alice and bob; alice has an open ticket assigned, so bob is picked
    a = new_iss(repo, "a", "--assignee", "alice")
    tid = new_iss(repo, "b", "--role", "维护代表=fan", "--set", "customer_type=金融")
    ready_for_review(repo, tid)
    assert repo.run("do", tid, "提交审核", "--note", "n", as_="alice").code == 0
    res = repo.run("do", tid, "转SE分析改进", as_="fan")
    assert res.code == 0, res.err
    assert "改进提取SE bound to bob" in res.err
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["assignee"] == "bob" and data["roles"]["改进提取SE"] == "bob"
    assert a == "ISS-1"


def test_assign_to_tie_goes_to_first_in_people_order(repo: Repo) -> None:
    tid = new_iss(repo, "b", "--role", "维护代表=fan", "--set", "customer_type=金融")
    ready_for_review(repo, tid)
    repo.run("do", tid, "提交审核", "--note", "n", as_="alice")
    # fan is assignee now (1 open); alice and bob hold 改进提取SE with 0 each → alice (first in people)
    res = repo.run("do", tid, "转SE分析改进", as_="fan")
    assert "改进提取SE bound to alice" in res.err


def test_entering_a_state_with_a_checklist_appends_a_fresh_section(repo: Repo) -> None:
    tid = new_iss(repo, "x", "--role", "维护代表=fan", "--set", "customer_type=金融")
    ready_for_review(repo, tid)
    repo.run("do", tid, "提交审核", "--note", "n", as_="alice")
    assert repo.run("do", tid, "打回补充信息", "--note", "补充日志", as_="fan").code == 0
    text = repo.read(ticket_file(repo, tid))
    assert text.count("## Checklist: 维护人员处理") == 2
    assert text.rstrip().endswith("- [ ] 判断是否为典型问题，是则在 Buglist 中登记")
    # the fresh (last) section is the current checklist: ticking 1 ticks the new one
    repo.run("tick", tid, "1", as_="alice")
    assert "- [x] 记录时间、局点、设备型号\n- [ ] 判断" in repo.read(ticket_file(repo, tid))


# ------------------------------------------------------------------ assign, set, tick, comment


def test_assign_and_role_binding(repo: Repo) -> None:
    tid = new_iss(repo)
    assert repo.run("assign", tid, "fan", as_="alice").code == 0
    res = repo.run("assign", tid, "bob", "--role", "维护代表", as_="alice")
    assert res.code == 1 and "bob does not hold role 维护代表" in res.err
    assert repo.run("assign", tid, "fan", "--role", "维护代表", as_="alice").code == 0
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["assignee"] == "fan" and data["roles"] == {"维护代表": "fan"}
    assert [e["action"] for e in data["history"]] == ["create", "assign", "assign"]
    assert repo.git("log", "-1", "--format=%s").startswith("ISS-1 assign")


def test_set_validates_and_refuses_reserved_and_readonly(repo: Repo) -> None:
    tid = new_iss(repo)
    before = repo.snapshot()
    for arg, msg in (("state=关闭", "cannot be set"), ("id=ISS-9", "cannot be set"), ("serial=1", "read-only"),
                     ("effort=abc", "not an integer"), ("issue_level=x", "not one of"), ("history=x", "cannot be set")):
        res = repo.run("set", tid, arg, as_="alice")
        assert res.code == 1 and msg in res.err, (arg, res.err)
    assert repo.snapshot() == before
    assert repo.run("set", tid, "title=新标题", "priority=P1", "labels=硬件,线缆", "effort=2", as_="alice").code == 0
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["title"] == "新标题" and data["priority"] == "P1" and data["labels"] == ["硬件", "线缆"]
    assert data["history"][-1]["action"] == "set"


def test_tick_by_number_and_text(repo: Repo) -> None:
    tid = new_iss(repo)
    assert repo.run("tick", tid, "判断是否为典型问题，是则在 Buglist 中登记", as_="alice").code == 0
    res = repo.run("tick", tid, "9", as_="alice")
    assert res.code == 1 and "no checklist item 9" in res.err
    res = repo.run("tick", tid, "不存在的项", as_="alice")
    assert res.code == 1
    assert repo.run("tick", tid, "1", as_="alice").code == 0
    text = repo.read(ticket_file(repo, tid))
    assert "- [x] 记录时间、局点、设备型号\n- [x] 判断是否为典型问题" in text
    res = repo.run("tick", tid, "1", as_="alice")
    assert res.code == 1 and "already ticked" in res.err


def test_comment_goes_to_history(repo: Repo) -> None:
    tid = new_iss(repo)
    assert repo.run("comment", tid, "已联系客户：等待日志", as_="alice").code == 0
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["history"][-1] == {"at": "2026-11-21T10:00:00+08:00", "by": "alice", "action": "comment",
                                   "note": "已联系客户：等待日志"}


# ------------------------------------------------------------------ links


def test_link_parent_relates_and_wiki_both_ways(repo: Repo) -> None:
    a, b = new_iss(repo, "a"), new_iss(repo, "b")
    assert repo.run("link", b, "--parent", a, as_="alice").code == 0
    res = repo.run("link", a, "--parent", b, as_="alice")
    assert res.code == 1 and "cycle" in res.err
    assert repo.run("link", a, "--relates", b, as_="alice").code == 0
    msg = repo.git("log", "-1", "--format=%B")
    assert "Sopflow-Ticket: ISS-1" in msg and "Sopflow-Ticket: ISS-2" in msg
    assert sorted(repo.git("show", "--name-only", "--format=", "HEAD").split()) == [
        "tickets/ISS-1-a.md", "tickets/ISS-2-b.md"]
    assert repo.run("link", a, "--wiki", "wiki/faq/cable.md", as_="alice").code == 0
    assert "tickets: [ISS-1]" in repo.read("wiki/faq/cable.md")
    da = json.loads(repo.run("show", a, "--format", "json").out)
    db = json.loads(repo.run("show", b, "--format", "json").out)
    assert da["links"] == {"relates": ["ISS-2"], "wiki": ["wiki/faq/cable.md"]}
    assert db["links"] == {"parent": "ISS-1", "relates": ["ISS-1"]}
    shown = repo.run("show", a).out
    assert "Children" in shown and "ISS-2" in shown
    for bad in ("../sopflow.yaml", "/etc/passwd", "wiki/../sopflow.yaml", "wiki/nope.md"):
        res = repo.run("link", a, "--wiki", bad, as_="alice")
        assert res.code == 1, bad


# ------------------------------------------------------------------ commits


def test_commit_holds_only_the_changed_file_and_keeps_other_staged_changes(repo: Repo) -> None:
    tid = new_iss(repo)
    repo.write("notes.txt", "staged by the user\n")
    repo.git("add", "notes.txt")
    assert repo.run("comment", tid, "hello", as_="alice").code == 0
    assert repo.git("show", "--name-only", "--format=", "HEAD").split() == [ticket_file(repo, tid)]
    assert "A  notes.txt" in repo.git("status", "--porcelain")


def test_no_commit_option_and_config(repo: Repo) -> None:
    tid = new_iss(repo)
    head = repo.git("rev-parse", "HEAD")
    assert repo.run("--no-commit", "comment", tid, "x", as_="alice").code == 0
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.git("status", "--porcelain").strip() == f"M {ticket_file(repo, tid)}"
    repo.git("checkout", "--", ".")
    repo.write("sopflow.yaml", repo.read("sopflow.yaml").replace("commit: true", "commit: false"))
    repo.commit_all("no commits")
    head = repo.git("rev-parse", "HEAD")
    assert repo.run("comment", tid, "y", as_="alice").code == 0
    assert repo.git("rev-parse", "HEAD") == head


# ------------------------------------------------------------------ identity, repo discovery


def test_identity_resolution(repo: Repo) -> None:
    tid = new_iss(repo)
    repo.run("comment", tid, "by env", env={"SOPFLOW_USER": "bob"})
    repo.git("config", "user.email", "FAN@example.com")
    repo.run("comment", tid, "by git email")
    repo.git("config", "--unset", "user.email")
    repo.git("config", "user.name", "Zed Outsider")
    repo.run("comment", tid, "by git name")
    repo.run("comment", tid, "by option", as_="alice")
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert [e["by"] for e in data["history"][1:]] == ["bob", "fan", "Zed Outsider", "alice"]


def test_person_not_in_people_cannot_act_where_a_role_is_required(repo: Repo) -> None:
    tid = new_iss(repo, "x", "--role", "维护代表=fan", "--set", "customer_type=金融")
    ready_for_review(repo, tid)
    res = repo.run("do", tid, "提交审核", "--note", "n", as_="stranger")
    assert res.code == 1 and "stranger may not fire" in res.err
    assert repo.run("do", tid, "更新进展", as_="stranger").code == 0


def test_repo_found_from_subdirectory_dash_c_and_env(repo: Repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sub = repo.root / "wiki" / "faq"
    from conftest import run_inprocess

    res = run_inprocess(["list"], repo.env, sub)
    assert res.code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run_inprocess(["list"], repo.env, elsewhere).code == 1
    assert run_inprocess(["-C", str(repo.root), "list"], repo.env, elsewhere).code == 0
    assert run_inprocess(["list"], {**repo.env, "SOPFLOW_REPO": str(repo.root)}, elsewhere).code == 0
    res = run_inprocess(["list"], repo.env, elsewhere)
    assert "not a sopflow repository" in res.err


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("bad_id", ["ISS-1/../x", "../ISS-1", "ISS-1/", "ISS", "/etc/passwd", "ISS-1\x1b[31m", "..", ""])
def test_malformed_ticket_ids_are_refused(repo: Repo, bad_id: str) -> None:
    new_iss(repo)
    for cmd in (["show", bad_id], ["do", bad_id, "提交审核"], ["comment", bad_id, "x"]):
        res = repo.run(*cmd, as_="alice")
        assert res.code == 1, (cmd, res)
        assert "Traceback" not in res.err and res.err.count("\n") == 1
        assert "\x1b" not in res.err


def test_unknown_ticket(repo: Repo) -> None:
    res = repo.run("show", "ISS-404")
    assert res.code == 1 and res.err == "sopflow: ISS-404: no such ticket\n"


def test_malformed_front_matter_and_yaml_tags(repo: Repo) -> None:
    repo.write("tickets/ISS-7.md", "---\nid: ISS-7\ntitle: [unclosed\n---\nbody\n")
    res = repo.run("show", "ISS-7")
    assert res.code == 1 and res.err.startswith("sopflow: tickets/ISS-7.md:") and "Traceback" not in res.err
    repo.write("tickets/ISS-8.md", "---\nid: !!python/object/apply:os.system [echo pwned]\n---\n")
    res = repo.run("show", "ISS-8")
    assert res.code == 1 and "tag" in res.err and "Traceback" not in res.err
    repo.write("tickets/ISS-9.md", "---\nid: ISS-9\n")
    assert repo.run("show", "ISS-9").code == 1


def test_usage_errors_exit_2(repo: Repo) -> None:
    res = repo.run("show")
    assert res.code == 2 and res.err.startswith("sopflow: ") and res.err.count("\n") == 1
    res = repo.run("list", "--format", "xml")
    assert res.code == 2
    res = repo.run("nosuchcommand")
    assert res.code == 2


# ------------------------------------------------------------------ Chinese and minimal diffs


def test_chinese_names_round_trip_byte_exact(repo: Repo) -> None:
    title = "【2026年11月21日】华东·XX局点「OSN 8800」设备发生：单板告警（紧急）"
    tid = new_iss(repo, title)
    data = json.loads(repo.run("show", tid, "--format", "json").out)
    assert data["title"] == title
    assert f"title: {title}\n".encode() in (repo.root / ticket_file(repo, tid)).read_bytes() or \
        json.dumps(title, ensure_ascii=False).encode() in (repo.root / ticket_file(repo, tid)).read_bytes()
    assert repo.run("comment", tid, "已处理：见「附件」", as_="alice").code == 0
    assert json.loads(repo.run("show", tid, "--format", "json").out)["history"][-1]["note"] == "已处理：见「附件」"


HAND_WRITTEN = (
    "---\r\n"
    "# a comment at the top\r\n"
    "id: ISS-5\r\n"
    "title: 手写的票   # trailing comment\r\n"
    "type: issue_track\r\n"
    "state: 维护人员处理\r\n"
    "custom_key: keep me\r\n"
    "roles:\r\n"
    "  维护代表: fan   # who reviews\r\n"
    "reporter: alice\r\n"
    "issue_level: 一般问题\r\n"
    "customer_type: 金融\r\n"
    "created: 2026-11-20T09:00:00+08:00\r\n"
    "updated: 2026-11-20T09:00:00+08:00\r\n"
    "history:\r\n"
    "- {at: 2026-11-20T09:00:00+08:00, by: alice, action: create, to: 维护人员处理}\r\n"
    "---\r\n"
    "Body line one.\r\n"
    "\r\n"
    "## Checklist: 维护人员处理\r\n"
    "- [x] 记录时间、局点、设备型号\r\n"
    "- [x] 判断是否为典型问题，是则在 Buglist 中登记\r\n"
)


def test_minimal_diff_keeps_comments_order_unknown_keys_body_and_crlf(repo: Repo) -> None:
    (repo.root / "tickets").mkdir(exist_ok=True)
    (repo.root / "tickets/ISS-5.md").write_bytes(HAND_WRITTEN.encode())
    repo.commit_all("hand-written ticket")
    res = repo.run("do", "ISS-5", "提交审核", "--note", "背景 进展 下一步", as_="alice")
    assert res.code == 0, res.err
    new = (repo.root / "tickets/ISS-5.md").read_bytes().decode()
    old_lines, new_lines = HAND_WRITTEN.split("\r\n"), new.split("\r\n")
    assert "\n" not in new.replace("\r\n", "")  # every line still CRLF
    removed = [x for x in old_lines if x not in new_lines]
    added = [x for x in new_lines if x not in old_lines]
    assert removed == ["state: 维护人员处理", "updated: 2026-11-20T09:00:00+08:00"]
    assert added[0] == "state: 维护代表审核"
    assert [a.split(":")[0] for a in added] == ["state", "assignee", "updated", "- {at"]
    assert "# a comment at the top" in new and "custom_key: keep me" in new and "  维护代表: fan   # who reviews" in new
    assert new.endswith("- [x] 判断是否为典型问题，是则在 Buglist 中登记\r\n")
    # the new history line follows the file's own list style ("- " at column 0)
    assert "\r\n- {at: 2026-11-21T10:00:00+08:00, by: alice, action: 提交审核" in new
    diff = repo.git("diff", "HEAD~1", "--stat")
    assert "1 file changed" in diff


def test_untouched_files_stay_byte_identical(repo: Repo) -> None:
    a, b = new_iss(repo, "a"), new_iss(repo, "b")
    before = (repo.root / ticket_file(repo, b)).read_bytes()
    repo.run("comment", a, "x", as_="alice")
    assert (repo.root / ticket_file(repo, b)).read_bytes() == before

"""The `kneebot` command line: build-index, ask, chat, eval, run, routine, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from bot.answering.index import IndexUnavailable
from bot.config import Settings, get_settings
from bot.knowledge import KnowledgeError

log = logging.getLogger("kneebot")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    configure_logging(args.command, args.verbose)
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"kneebot: bad setting: {_first_error(exc)}", file=sys.stderr)
        return 2
    try:
        return args.handler(args, settings) or 0
    except (KnowledgeError, IndexUnavailable, MissingExtra) as exc:
        print(f"kneebot: {exc}", file=sys.stderr)
        return 2

    except KeyboardInterrupt:
        return 130


def configure_logging(command: str, verbose: bool = False) -> None:
    """Log lines on stderr: INFO for the bot's operators; in the console chat only WARNING and
    up, so that they do not land in the middle of the conversation (-v shows everything)."""
    logging.basicConfig(
        level=log_level(command, verbose),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _quiet_libraries()


def log_level(command: str, verbose: bool = False) -> int:
    if verbose:
        return logging.DEBUG
    console = command == "chat" or (command == "run" and not _has_token())
    return logging.WARNING if console else logging.INFO


def _has_token() -> bool:
    """Whether `kneebot run` will start Telegram (without a token it opens the console chat)."""
    try:
        return get_settings().telegram_bot_token is not None
    except ValidationError:
        return False


def _first_error(exc: ValidationError) -> str:
    """The environment variable and what is wrong with it, e.g. 'KNEEBOT_ADMIN_IDS: ...'."""
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    return f"{name}: {error['msg']}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kneebot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build-index", help="embed knowledge/ into index/")
    build.add_argument("--if-stale", action="store_true", help="only when knowledge changed")
    build.set_defaults(handler=cmd_build_index)

    ask = sub.add_parser("ask", help="answer one question, or one per stdin line with '-'")
    ask.add_argument("question", help="the question, or '-' to read lines from stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.set_defaults(handler=cmd_ask)

    chat = sub.add_parser("chat", help="interactive console chat (no Telegram needed)")
    chat.set_defaults(handler=cmd_chat)

    evaluate = sub.add_parser("eval", help="retrieval quality on the labelled questions")
    evaluate.add_argument("--split", choices=["dev", "test", "all"], default="all")
    evaluate.add_argument(
        "--calibrate", action="store_true", help="set the unknown thresholds from the dev split"
    )
    evaluate.add_argument(
        "--verbose", action="store_true", help="list the realistic messages answered wrongly"
    )
    evaluate.add_argument(
        "--fit-ranking", action="store_true", help="fit the ranking weights on the dev messages"
    )
    evaluate.set_defaults(handler=cmd_eval)

    bench = sub.add_parser("bench", help="speed and memory benchmark; prints a table, writes JSON")
    bench.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    bench.add_argument("--output", default="bench-results.json", help="where the JSON goes")
    bench.add_argument(
        "--faults", action="store_true", help="reminders through a fault-injecting proxy instead"
    )
    bench.add_argument("--users", type=int, default=1000, help="subscribers (with --faults)")
    bench.set_defaults(handler=cmd_bench)

    status = sub.add_parser("status", help="one line: are reminders going out? (exit 1 if not)")
    status.set_defaults(handler=cmd_status)

    run = sub.add_parser("run", help="the Telegram bot (console chat without a token)")
    run.set_defaults(handler=cmd_run)

    _routine_parser(sub)
    _pictures_parser(sub)
    return parser


def _quiet_libraries() -> None:
    for name in ("httpx", "sentence_transformers", "transformers", "faiss", "bm25s", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _runtime(settings: Settings):
    from bot.app import build_runtime

    return build_runtime(settings)


def cmd_build_index(args: argparse.Namespace, settings: Settings) -> int:
    """Embed the knowledge with the torch reference model, and export the ONNX query model."""
    from bot.answering.embedding import MODEL_NAME, TorchEmbedder
    from bot.answering.index import build_index, is_current
    from bot.answering.onnx_model import export_onnx, onnx_problem
    from bot.knowledge import load_knowledge

    kb = load_knowledge(settings.knowledge_dir)
    _build_pictures(kb, settings)
    index_current = args.if_stale and is_current(kb, MODEL_NAME, settings.index_dir)
    onnx_current = args.if_stale and onnx_problem(settings.index_dir) is None
    if index_current and onnx_current:
        print(f"index is current ({len(kb.chunks)} chunks), ONNX model is current")
    started = time.perf_counter()
    if not index_current:
        index = build_index(kb, TorchEmbedder(), settings.index_dir)
        elapsed = time.perf_counter() - started
        print(f"built index: {len(kb.chunks)} chunks, {len(index.rows)} vectors in {elapsed:.1f} s")
    if not onnx_current:
        started = time.perf_counter()
        export_onnx(settings.index_dir)
        print(f"exported the ONNX query model in {time.perf_counter() - started:.1f} s")
    # The example vectors and the intent model are cached beside the index; building them here
    # keeps that work (and importing scikit-learn) out of every serving process's start.
    _runtime(settings)
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    runtime = _runtime(settings)
    lines = _stdin_lines() if args.question == "-" else [args.question]
    return asyncio.run(_ask(runtime, lines, args.json))


async def _ask(runtime, lines: list[str], as_json: bool) -> int:
    conversations = runtime.memory_conversations()
    for line in lines:
        user, question = _ask_line(line) if as_json else (None, line)
        started = time.perf_counter()
        if user is None:
            reply = runtime.coach.reply_sync(question)
        else:  # lines from the same user share context, as in a chat
            reply = await conversations.reply(user, question)
        latency_ms = (time.perf_counter() - started) * 1000
        if as_json:
            print(
                json.dumps(_reply_json(question, reply, latency_ms), ensure_ascii=False), flush=True
            )
        else:
            print(reply.text, end="\n\n", flush=True)
    return 0


def _ask_line(line: str) -> tuple[str | None, str]:
    """A JSON line {"user": "...", "text": "..."} has a user; any other line is a question."""
    if line.lstrip().startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            return None, line
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            user = data.get("user")
            return (str(user) if user is not None else None), data["text"]
    return None, line


def _stdin_lines() -> list[str]:
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


def _reply_json(question: str, reply, latency_ms: float) -> dict:
    return {
        "question": question,
        "kind": reply.kind.value,
        "text": reply.text,
        "sources": [
            {"id": s.id, "title": s.title, "score": round(s.score, 4)} for s in reply.sources
        ],
        "latency_ms": round(latency_ms, 2),
    }


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.channels.console.chat import run_console

    runtime = _runtime(settings)
    try:
        return asyncio.run(run_console(runtime, settings))
    except (OSError, SQLAlchemyError) as exc:
        print(f"kneebot: cannot use the data directory or database: {exc}", file=sys.stderr)
        return 2


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answering.calibration import save_calibration
    from bot.answering.retrieval import Mode

    evaluation = _devtool("evaluation", "eval")
    runtime = _runtime(settings)
    coach = runtime.coach
    if args.calibrate:
        dev = evaluation.load_questions(split="dev")
        thresholds = {
            mode.value: evaluation.calibrate_unknown(evaluation.run(coach, dev, mode))
            for mode in Mode
        }
        save_calibration(thresholds, settings.calibration_file)
        coach.unknown_below = thresholds
        print(f"calibrated on {len(dev)} dev questions: {thresholds}")
    if args.fit_ranking:
        print(_fit_ranking(coach, settings))
    split = None if args.split == "all" else args.split
    questions = evaluation.load_questions(split=split)
    results = {
        mode.value: evaluation.metrics(evaluation.run(coach, questions, mode)) for mode in Mode
    }
    print(f"split: {args.split}")
    print(evaluation.table(results))
    print(_realistic_report(runtime.memory_conversations(), args))
    return 0


def _fit_ranking(coach, settings: Settings) -> str:
    """Fit the ranking weights on the dev messages, save them, and rank with them from now on."""
    from bot.answering.ranking import as_vector, save_ranking

    ranking_fit = _devtool("ranking_fit", "eval")
    data = ranking_fit.problem(coach, ranking_fit.dev_messages())
    fitted = ranking_fit.fit(data)
    weights = ranking_fit.as_weights(fitted)
    save_ranking(weights, settings.ranking_file)
    coach.retriever.ranking = as_vector(weights)
    return ranking_fit.report(data, fitted) + f"\nsaved to {settings.ranking_file}"


def _realistic_report(conversations, args: argparse.Namespace) -> str:
    """The realistic sets per split, with context as in a chat, and the shared dev files."""
    realistic = _devtool("realistic", "eval")
    splits = ["dev", "test"] if args.split == "all" else [args.split]

    async def run() -> str:
        parts = []
        for number, split in enumerate(splits):
            shared = number == len(splits) - 1  # the shared dev files once, after the last split
            parts.append(await realistic.evaluate(conversations.reply, split, args.verbose, shared))
        return "\n".join(parts)

    return asyncio.run(run())


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.faults:
        output = Path(args.output.replace("bench-results", "bench-faults"))
        _devtool("faultbench", "bench --faults").run_fault_bench(settings, args.users, output)
        return 0
    _devtool("bench", "bench").run_bench(settings, quick=args.quick, output=Path(args.output))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print the reminder loops' health from the database; 0 when reminders are going out."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import SQLAlchemyError

    from bot.reminders.status import status_line
    from bot.storage.database import Database, DatabaseDamaged

    async def read() -> tuple[str, bool]:
        db = Database.from_settings(settings)
        try:
            await db.migrate()
            now = datetime.now(UTC)
            return status_line(await db.process_health(now), await db.delivery_counts(), now)
        except (OSError, SQLAlchemyError, DatabaseDamaged) as exc:
            return f"reminders: DOWN (database unusable: {type(exc).__name__}: {exc})", False
        finally:
            await db.close()

    line, healthy = asyncio.run(read())
    print(line)
    return 0 if healthy else 1


class MissingExtra(Exception):
    """A developer command whose optional dependencies are not installed."""


def _devtool(module: str, command: str) -> ModuleType:
    """A bot.devtools module; a missing dev dependency is one line saying which extra to add."""
    try:
        return importlib.import_module(f"bot.devtools.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("bot"):
            raise
        raise MissingExtra(
            f"`kneebot {command}` needs the dev extra ({exc.name} is missing): "
            "pip install 'kneebot[dev]'"
        ) from None


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.telegram_bot_token is None:
        print("TELEGRAM_BOT_TOKEN is not set: starting the console chat instead.", file=sys.stderr)
        return cmd_chat(args, settings)
    from bot.channels.telegram import run_telegram

    return run_telegram(settings)


def _routine_parser(sub: argparse._SubParsersAction) -> None:
    routine = sub.add_parser("routine", help="build a corrective routine from causes and settings")
    routine.add_argument("--causes", help="comma-separated cause ids or names (default: starter)")
    routine.add_argument("--equipment", default="none", help="band,step,weight,foam-roller or none")
    routine.add_argument("--level", default="beginner", help="beginner, intermediate or advanced")
    routine.add_argument("--minutes", type=int, default=10, help="minutes a day (3-60)")
    routine.add_argument("--days", type=int, default=3, help="days a week (1-7)")
    routine.add_argument("--start", type=date.fromisoformat, help="programme start, YYYY-MM-DD")
    routine.add_argument("--json", action="store_true", help="the routine as one JSON object")
    routine.set_defaults(handler=cmd_routine)


def cmd_routine(args: argparse.Namespace, settings: Settings) -> int:
    from bot.coaching.assessment import AssessmentError, load_questionnaire, profile_from_options
    from bot.coaching.builder import build_routine
    from bot.coaching.screens import RoutineScreens, routine_json
    from bot.compose import Composer
    from bot.knowledge import load_knowledge

    kb = load_knowledge(settings.knowledge_dir)
    try:
        questionnaire = load_questionnaire(settings.knowledge_dir / "assessment.yaml", kb)
        options = (args.causes, args.equipment, args.level, args.minutes, args.days)
        profile = profile_from_options(kb, *options)
    except (AssessmentError, ValueError) as exc:
        print(f"kneebot routine: {exc}", file=sys.stderr)
        return 2
    routine = build_routine(profile, kb, start=args.start)
    if args.json:
        print(json.dumps(routine_json(routine), ensure_ascii=False))
        return 0
    screens = RoutineScreens(kb, questionnaire, Composer(settings.prompts_dir))
    print(screens.routine(routine, args.start or date.today()).text)
    return 0


def _pictures_parser(sub: argparse._SubParsersAction) -> None:
    pictures = sub.add_parser("pictures", help="draw every exercise (cached in the index dir)")
    pictures.add_argument("--build", action="store_true", help="render what changed (default)")
    pictures.add_argument("--sheet", metavar="FILE.png", help="also write a contact sheet")
    pictures.set_defaults(handler=cmd_pictures)


def cmd_pictures(args: argparse.Namespace, settings: Settings) -> int:
    from bot.knowledge import Kind, load_knowledge
    from bot.pictures.files import still_path
    from bot.pictures.sheet import contact_sheet

    kb = load_knowledge(settings.knowledge_dir)
    _build_pictures(kb, settings)
    if args.sheet:
        exercises = [c for c in kb.of_kind(Kind.EXERCISE) if c.picture is not None]
        stills = [(c.title, still_path(settings.index_dir, c.id)) for c in exercises]
        print(f"contact sheet: {contact_sheet(stills, Path(args.sheet))}")
    return 0


def _build_pictures(kb, settings: Settings) -> None:
    from bot.pictures.cache import build_pictures

    report = build_pictures(kb, settings.index_dir)
    print(f"pictures: {len(report.rendered)} drawn, {len(report.kept)} unchanged")


Handler = Callable[[argparse.Namespace, Settings], int]

if __name__ == "__main__":
    sys.exit(main())

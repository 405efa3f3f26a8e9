"""Reads lightprompt's data back from a real Agent Lightning store with Agent Lightning's own
client and helpers, and checks it against what lightprompt holds (a JSON file written by
agl.test.mjs). Prints the counts it read as one JSON line; exits 1 on any mismatch.

Usage: check.py STORE_URL EXPECTED_JSON
"""

import asyncio
import json
import sys

from agentlightning import TracerTraceToTriplet, find_final_reward, find_reward_spans
from agentlightning.adapter.messages import TraceToMessages
from agentlightning.store.client_server import LightningStoreClient


def fail(message):
    print(f"check.py: {message}", file=sys.stderr)
    sys.exit(1)


async def main(url, expected_path):
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    client = LightningStoreClient(url)
    try:
        rollouts = await client.query_rollouts()
        by_task = {}
        for r in rollouts:
            task = (r.metadata or {}).get("lightprompt", {}).get("taskId")
            if task is None:
                continue
            if task in by_task:
                fail(f"two rollouts for task {task}: {by_task[task].rollout_id}, {r.rollout_id}")
            by_task[task] = r
        counts = {"rollouts": 0, "succeeded": 0, "spans": 0, "rewards": 0, "triplets": 0,
                  "rewarded_triplets": 0}
        adapter = TracerTraceToTriplet(llm_call_match=r"lightprompt\.optimize")
        for task in expected["tasks"]:
            tid = task["taskId"]
            rollout = by_task.get(tid)
            if rollout is None:
                fail(f"no rollout for task {tid}")
            counts["rollouts"] += 1
            if rollout.input.get("taskId") != tid or rollout.input.get("category") != task["category"]:
                fail(f"rollout {rollout.rollout_id} input {rollout.input} does not name task {tid}")
            if rollout.status != "succeeded":
                fail(f"rollout {rollout.rollout_id} is {rollout.status}, not succeeded")
            attempts = await client.query_attempts(rollout.rollout_id)
            if len(attempts) != 1 or attempts[0].status != "succeeded":
                fail(f"rollout {rollout.rollout_id}: attempts {[(a.attempt_id, a.status) for a in attempts]}")
            counts["succeeded"] += 1
            # "latest" is what trainers read: with one attempt it is everything.
            spans = await client.query_spans(rollout.rollout_id, "latest")
            every = await client.query_spans(rollout.rollout_id)
            if len(every) != len(spans):
                fail(f"task {tid}: {len(every)} spans in all attempts, {len(spans)} in the latest")
            ids = [s.span_id for s in spans]
            if len(set(ids)) != len(ids):
                fail(f"task {tid}: a span is stored twice: {ids}")
            optimizations = [s for s in spans if s.name.startswith("lightprompt.optimize")]
            if [s.span_id for s in optimizations] != task["spanIds"]:
                fail(f"task {tid}: optimizations {[s.span_id for s in optimizations]} != {task['spanIds']}")
            reward_spans = find_reward_spans(spans)
            got = [(s.span_id, s.parent_id, s.attributes["agentlightning.reward.0.value"]) for s in reward_spans]
            want = [(r["rewardId"], r["spanId"], r["value"]) for r in task["rewards"]]
            if got != want:
                fail(f"task {tid}: rewards {got} != {want}")
            seqs = [s.sequence_id for s in spans]
            if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
                fail(f"task {tid}: sequence ids not increasing: {seqs}")
            final = find_final_reward(spans)
            if final != task["finalReward"]:
                fail(f"task {tid}: find_final_reward {final} != lightprompt's last reward {task['finalReward']}")
            triplets = adapter.adapt(spans)
            if len(triplets) != len(task["spanIds"]):
                fail(f"task {tid}: {len(triplets)} triplets for {len(task['spanIds'])} optimizations")
            for t, opt in zip(triplets, task["optimizations"]):
                prompt = t.prompt["raw_content"][0]["content"]
                response = t.response["raw_content"][0]["content"]
                if (prompt, response) != (opt["original"], opt["optimized"]):
                    fail(f"task {tid}: triplet {prompt!r} -> {response!r} is not optimization {opt['spanId']}")
                if t.reward != opt["latestReward"]:
                    fail(f"task {tid}: triplet of {opt['spanId']} has reward {t.reward}, lightprompt's latest is {opt['latestReward']}")
                if t.reward is not None:
                    counts["rewarded_triplets"] += 1
            # The chat-format adapter (fine-tuning data): one user → assistant pair each.
            conversations = TraceToMessages().adapt(spans)
            pairs = [[(m["role"], m["content"]) for m in c["messages"]] for c in conversations]
            want_pairs = [[("user", o["original"]), ("assistant", o["optimized"])] for o in task["optimizations"]]
            if pairs != want_pairs:
                fail(f"task {tid}: TraceToMessages gave {pairs}")
            counts["spans"] += len(optimizations)
            counts["rewards"] += len(reward_spans)
            counts["triplets"] += len(triplets)
        if len(by_task) != len(expected["tasks"]):
            fail(f"{len(by_task)} lightprompt rollouts in the store, {len(expected['tasks'])} tasks expected")
        print(json.dumps(counts))
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

// Rebuild tests/fixtures/workflows_api/*.api.json, the API prompts the real frontend makes from the
// example workflows (app.graphToPrompt), which test_runner.py compares with ui_to_prompt. Run it after
// changing an example workflow, on the pinned frontend:
//   bash ../shared/tools/comfyui-env.sh start 8188
//   node tests/e2e_widget/api_fixtures.mjs --port 8188 --out /tmp/api_fixtures
import fs from "node:fs";
import path from "node:path";

import { ROOT, openSession } from "./lib.mjs";

const s = await openSession("api-fixtures");
try {
    const examples = path.join(ROOT, "example_workflows");
    const fixtures = path.join(ROOT, "tests/fixtures/workflows_api");
    for (const name of fs.readdirSync(examples).filter((f) => f.endsWith(".json")).sort()) {
        await s.loadWorkflow(s.readWorkflow(path.join("example_workflows", name)), { keepModel: true });
        const output = await s.page.evaluate(async () => (await window.comfyAPI.app.app.graphToPrompt()).output);
        const file = path.join(fixtures, name.replace(/\.json$/, ".api.json"));
        fs.writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
        s.check(`${name} -> ${path.relative(ROOT, file)}`, Object.keys(output).length > 0,
            `${Object.keys(output).length} nodes, frontend ${s.results.frontend}`);
    }
} catch (err) {
    await s.fail(err);
}
await s.finish();

// Compares two versions of schema.graphql with GraphQL Inspector and fails on a breaking
// change: anything removed or renamed without a @deprecated step, a type changed, an
// argument made required. Removing a field, argument, input field or enum value is
// accepted once the previous version marked it @deprecated (clients had the warning).
//
//   node web/schema-diff.mjs OLD.graphql NEW.graphql
import { readFile } from "node:fs/promises";
import { argv, exit } from "node:process";
import { pathToFileURL } from "node:url";
import { ChangeType, CriticalityLevel, diff } from "@graphql-inspector/core";
import { buildSchema } from "graphql";

const REMOVALS = new Set([
  ChangeType.FieldRemoved,
  ChangeType.FieldArgumentRemoved,
  ChangeType.InputFieldRemoved,
  ChangeType.EnumValueRemoved,
]);

/** Whether the old schema had deprecated what `change` removes. */
function wasDeprecated(schema, change) {
  if (!REMOVALS.has(change.type) || !change.path) return false;
  const [typeName, member, argument] = change.path.split(".");
  const type = schema.getType(typeName);
  if (!type) return false;
  let item;
  if (change.type === ChangeType.EnumValueRemoved) {
    item = type.getValue?.(member);
  } else {
    item = type.getFields?.()[member];
    if (item && change.type === ChangeType.FieldArgumentRemoved) {
      item = item.args.find((arg) => arg.name === argument);
    }
  }
  return Boolean(item && item.deprecationReason != null);
}

/** The changes from `oldSdl` to `newSdl`, each with `breaking` set. */
export async function compare(oldSdl, newSdl) {
  const before = buildSchema(oldSdl);
  const after = buildSchema(newSdl);
  const changes = await diff(before, after);
  return changes.map((change) => ({
    ...change,
    breaking:
      change.criticality.level === CriticalityLevel.Breaking && !wasDeprecated(before, change),
  }));
}

async function main([oldPath, newPath]) {
  if (!oldPath || !newPath) {
    console.error("usage: node schema-diff.mjs OLD.graphql NEW.graphql");
    return 2;
  }
  const changes = await compare(
    await readFile(oldPath, "utf8"),
    await readFile(newPath, "utf8")
  );
  // Additions and description edits are routine; the rest deserves a look.
  for (const change of changes) {
    const level = change.breaking ? "BREAKING" : change.criticality.level.replace("_", "-");
    if (level !== "NON-BREAKING") console.log(`${level.padEnd(9)} ${change.message}`);
  }
  const breaking = changes.filter((change) => change.breaking).length;
  console.log(
    breaking
      ? `${breaking} breaking change(s): deprecate first (@deprecated), remove in a later change`
      : `schema.graphql: ${changes.length} change(s), none breaking`
  );
  return breaking ? 1 : 0;
}

if (import.meta.url === pathToFileURL(argv[1]).href) {
  exit(await main(argv.slice(2)));
}

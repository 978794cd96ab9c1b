// PostGraphile v5, amber preset, serving the benchmark database for bench/run.py.
// Connects with DATABASE_URL (the schema owner: no row-level security, no auth) and
// listens on 127.0.0.1:$PORT.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // By default PostGraphile offers ordering and filtering only on columns that lead an
  // index without a predicate, which leaves out conversations.priority (indexed as the
  // expression -priority) and the columns of the notes' partial indexes: without them
  // the queue order and the live-notes filter could not be expressed at all.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_SIZE || 10) },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT || 5678),
    graphiql: false,
    watch: false,
  },
  grafast: { explain: false },
};

export default preset;

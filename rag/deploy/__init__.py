"""Running the product on real servers: throw-away local Milvus and PostgreSQL servers (for tests,
benchmarks and trying a deployment on one machine) and moving a library between backends."""

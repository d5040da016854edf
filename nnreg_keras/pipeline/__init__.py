"""The pipeline: from notebooks and profiles to a published report. It imports no lesson helper.

Stages, one module each: `profiles` (parameter profiles and notebooks' parameters cells), `runner`
(executes a notebook through papermill), `files` (bounded reads, one-step writes), `landing` (puts
its outputs into reports/ in one step, under a lock; deletes only what it wrote; checks a run
whole), `progress` (the progress line), `contract` (the results contract and its JSON Schema),
`sanitize` (executed-notebook pages that run and fetch nothing), `report` (the HTML page),
`shipped` (the templates, lessons and profiles shipped beside the code), `lessons` (where a command
finds its lessons, and `init`), `student` (student editions, by nbgrader) and `cli`
(`nnreg-keras run|report|check|init|student`).
"""

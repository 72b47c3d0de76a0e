"""``clac eval``: retrieval, zero-shot classification, property probes, baselines, leakage.

One module per job:

- :mod:`~clac_core.evaluation.dataset`: the evaluated crystals and texts (:class:`EvalSet`),
  read from a ``clac data build`` folder or a source spec.
- :mod:`~clac_core.evaluation.embeddings`: model, random-init and text-encoder embeddings.
- :mod:`~clac_core.evaluation.systems`: the registry of scored systems (model and baselines).
- :mod:`~clac_core.evaluation.retrieval`: pooled retrieval, free-text search, ratios.
- :mod:`~clac_core.evaluation.prompts`: the zero-shot prompt table (the app shows the same).
- :mod:`~clac_core.evaluation.zero_shot`: prompt-based classification.
- :mod:`~clac_core.evaluation.probes`: property probes and the supervised baseline.
- :mod:`~clac_core.evaluation.leakage`: overlap with training data, second corpus.
- :mod:`~clac_core.evaluation.mcq`: CLaC's zero-shot multiple-choice questions.
- :mod:`~clac_core.evaluation.context`: :class:`EvalOptions`, :class:`EvalContext`, :class:`Section`.
- :mod:`~clac_core.evaluation.pipeline`: ``evaluate()`` and the list of sections.
- :mod:`~clac_core.evaluation.report`: write results.json/results.md, read headline numbers.
- :mod:`~clac_core.evaluation.cli`: the ``clac eval`` command.
- :mod:`~clac_core.evaluation.metrics`: retrieval ranks/metrics with honest tie handling,
  pool sampling, classification metrics (pure numpy; no model needed).
- :mod:`~clac_core.evaluation.lexical`: TF-IDF keyword-search baseline.
- :mod:`~clac_core.evaluation.free_text_rules`: hand-written free-text queries with relevance rules
  (``clac_core/resources/queries.yaml``) and precision@k.

Writes ``results.json`` and ``results.md`` (same folder). JSON layout::

    retrieval.{text_to_crystal,crystal_to_text}.pool_{100,1000,all}.{R@1,R@5,R@10,MRR,median_rank}
        (+ "<metric>_std" over --repeats random pools, "pool_size" actually used, "repeats")
    retrieval.free_text.{P@10, chance, n_queries_used, n_queries, per_query}
    zero_shot.TASK.{accuracy, macro_f1, n, classes, majority{accuracy, macro_f1, class},
                    random_init{accuracy, macro_f1}, prompts}
    probes.QUANTITY.{n_train, n_test, unit, MAE{mean_predictor, ridge, knn, random_init_ridge,
                     supervised_cgcnn}, supervised_cgcnn{epochs, steps, seconds, ...}}
    baselines.{random_init,lexical,text_encoder_only}.{retrieval (same layout), description}
    baselines.ratios.DIRECTION.POOL.METRIC  (model / strongest baseline; for median_rank
        strongest-baseline rank / model rank, so > 1 always means the model is better)
        and baselines.ratios.DIRECTION.POOL.METRIC_vs (the strongest baseline's name)
    leakage.{split_kind, test_formulas_in_train, test_chemsys_in_train, test_ids_in_train,
             checkpoint_data_dir, checkpoint_split_kind, checkpoint_train_formula_overlap,
             checkpoint_train_chemsys_overlap, checkpoint_train_id_overlap, second_corpus}
    mcq.TASK.{n, n_choices, accuracy, random_init{accuracy}, random_baseline, majority{class,
              accuracy}, anchors, classes} for TASK in structure, composition, oxide, metal,
              semiconductor, stable (+ stable.stable_rule), and mcq.notes
    meta.{checkpoint, data, split, split_kind, counts, seconds, query_views, pools, repeats, seed, notes}

Protocol (also stored in ``meta.notes``):

* Retrieval pool = random crystals of the evaluated split (clipped to the split size); each
  pool crystal gets one query text drawn at random from its non-caption views
  (composition/structure/properties, or the ``--text-column`` text); text->crystal ranks the
  pool's crystals for each text, crystal->text ranks the pool's texts for each crystal.
  Ties count as random order (see :mod:`clac_core.evaluation.metrics`).
* Baselines see the same pools and queries. ``random_init``: same architecture and text
  backbone, crystal encoder and heads at random weights (``torch.manual_seed(seed)``).
  ``lexical``: TF-IDF keyword search where a crystal is represented by its own generated
  descriptions minus the query text. ``text_encoder_only``: the pretrained text encoder
  alone, max cosine between the query and the crystal's other descriptions. Both
  description-reading baselines read texts that state the crystal's facts (formula, space
  group, properties), which the model never sees: they are strong references, not strawmen.
* Probes: frozen crystal embeddings of the evaluated crystals, a train/test split grouped by
  reduced formula (seeded, 25 % test); RidgeCV and kNN (k=5) regression; a mean predictor; a
  supervised crystal encoder of the same architecture + linear head trained from scratch on the
  same training rows for ``--probe-epochs`` epochs (Adam, lr 1e-3, batch 32, MSE on
  standardized targets).

Shape legend: N crystals, T texts, Q queries, D embedding dims, H text backbone width.

Importing this package is cheap (numpy only).
"""

from __future__ import annotations

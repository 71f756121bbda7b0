"""The gates every photo passes: at intake (selfies) and before anyone sees a candidate.

* ``people``: one person per photo (``second_person``, ``no_face``);
* ``quality``: sharpness, pixelation and stylisation against the selfies (``blurred``,
  ``low_detail``);
* ``identity``: the face against every selfie of the person, and against colleagues
  (``not_the_person``), and one identity per selfie set (``different_person``);
* ``generation.conformance``: the look (``backdrop_off``, ``colour_cast``,
  ``face_cut_off``, ``framing_off``);
* ``candidate``: all of them, in order, as the product applies them.

Reason codes and their sentences are in ``codes``.
"""

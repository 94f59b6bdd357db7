"""Pure presentation data: what each panel and screen shows, built from the model
(``snapshot`` for the main screen, ``heat`` for the heatmap, ``detail`` for drill-down),
testable without a terminal."""

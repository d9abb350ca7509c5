package synth

import (
	"time"

	"github.com/articlesd/articlesd/store"
)

// demoArticles is the hand-written demo set that `articlesd seed` loads.
var demoArticles = []store.NewArticle{
	{Title: "The Art of Storytelling in 'Inception'", Author: "Christopher Nolan", Tags: []string{"blockbuster", "sci-fi", "storytelling"},
		Content:   "Inception folds a heist film into a dream within a dream. Each layer runs on its own clock, and the editing keeps four timelines legible at once.",
		CreatedAt: time.Date(2024, 1, 1, 9, 30, 0, 0, time.UTC)},
	{Title: "Directing Masterpieces: The Nolan Method", Author: "Christopher Nolan", Tags: []string{"directing", "blockbuster"},
		Content:   "Practical effects, large-format cameras and a fondness for non-linear structure: a look at how Nolan plans a production from the script to the IMAX print.",
		CreatedAt: time.Date(2024, 1, 1, 14, 0, 0, 0, time.UTC)},
	{Title: "Revolutionizing Cinema: The Impact of 'Interstellar'", Author: "Christopher Nolan", Tags: []string{"sci-fi", "blockbuster", "science"},
		Content:   "Interstellar worked with physicists to render a black hole that was later cited in research papers. Its score, built around a church organ, is as memorable as its visuals.",
		CreatedAt: time.Date(2024, 1, 2, 10, 15, 0, 0, time.UTC)},
	{Title: "The Evolution of Special Effects in Sci-Fi", Author: "Ridley Scott", Tags: []string{"special effects", "sci-fi"},
		Content:   "Special effects have transformed the way we experience movies, with advancements bringing unimaginable worlds to life, from miniatures and matte paintings to digital doubles.",
		CreatedAt: time.Date(2024, 1, 3, 8, 0, 0, 0, time.UTC)},
	{Title: "Cinematography in Blade Runner", Author: "Ridley Scott", Tags: []string{"cinematography", "sci-fi", "neo-noir"},
		Content:   "Smoke, neon and shafts of light through rotating fans: Jordan Cronenweth's cinematography gave Blade Runner a rain-soaked Los Angeles that still defines the look of the future.",
		CreatedAt: time.Date(2024, 1, 3, 16, 45, 0, 0, time.UTC)},
	{Title: "Building Tension in 'Alien'", Author: "Ridley Scott", Tags: []string{"horror", "sci-fi"},
		Content:   "Alien shows its creature for barely four minutes. Sound design, tight corridors and a patient edit do the rest of the work.",
		CreatedAt: time.Date(2024, 1, 4, 11, 0, 0, 0, time.UTC)},
	{Title: "Practical Worlds: Designing Dune's Arrakis", Author: "Denis Villeneuve", Tags: []string{"production design", "sci-fi", "blockbuster"},
		Content:   "The desert scenes of Dune were shot in Jordan and Abu Dhabi, with sand-coloured screens instead of green ones so that the light on the actors stayed true.",
		CreatedAt: time.Date(2024, 1, 5, 9, 0, 0, 0, time.UTC)},
	{Title: "Silence and Language in 'Arrival'", Author: "Denis Villeneuve", Tags: []string{"sci-fi", "drama"},
		Content:   "Arrival is a first-contact film about translation. Its circular logograms were designed with linguists and drive both the plot and the editing.",
		CreatedAt: time.Date(2024, 1, 6, 13, 20, 0, 0, time.UTC)},
	{Title: "The Long Take in 'Children of Men'", Author: "Alfonso Cuarón", Tags: []string{"cinematography", "long take", "dystopia"},
		Content:   "The car ambush and the battle in Bexhill are single continuous shots. Rigs built for the film let the camera move through a car with the actors inside.",
		CreatedAt: time.Date(2024, 1, 7, 18, 0, 0, 0, time.UTC)},
	{Title: "Gravity and the Light Box", Author: "Alfonso Cuarón", Tags: []string{"special effects", "cinematography"},
		Content:   "To light faces as if in orbit, Gravity surrounded its actors with LED panels playing the Earth and the Sun, a technique later used by many productions.",
		CreatedAt: time.Date(2024, 1, 8, 7, 30, 0, 0, time.UTC)},
	{Title: "Framing Symmetry: Wes Anderson's Grand Budapest Hotel", Author: "Wes Anderson", Tags: []string{"production design", "comedy"},
		Content:   "Three aspect ratios mark three eras of the hotel. Centred compositions, pastel palettes and miniature models give the film its storybook feel.",
		CreatedAt: time.Date(2024, 1, 9, 12, 0, 0, 0, time.UTC)},
	{Title: "Sound as Story in 'Oppenheimer'", Author: "Christopher Nolan", Tags: []string{"sound design", "drama", "blockbuster"},
		Content:   "The Trinity test is shown in silence before the blast arrives. Oppenheimer uses sound, and its absence, to put the audience inside the physicist's head.",
		CreatedAt: time.Date(2024, 1, 10, 20, 0, 0, 0, time.UTC)},
}

// Demo returns the hand-written demo set that `articlesd seed` loads (a copy: callers
// may change it).
func Demo() []store.NewArticle {
	out := make([]store.NewArticle, len(demoArticles))
	for i, a := range demoArticles {
		a.Tags = append([]string(nil), a.Tags...)
		out[i] = a
	}
	return out
}
